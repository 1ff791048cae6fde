package partnercenter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TransitionsService transitions a subscription to another catalog item
// (new commerce; traditional sources are accepted too): list the
// eligibilities, create a transition, then follow its events. All three
// endpoints accept app-only and app+user credentials.
//
// Each method returns a non-nil *Response whenever it sent a request; the
// *Response is nil only when the arguments were rejected before sending
// (ErrInvalidArgument).
type TransitionsService service

// Eligibilities returns the catalog items the subscription can transition
// to. eligibilityType is EligibilityImmediate, EligibilityScheduled or ""
// for the service default (immediate).
//
//	GET /v1/customers/{customerId}/subscriptions/{subscriptionId}/transitionEligibilities[?eligibilityType=]
func (s *TransitionsService) Eligibilities(ctx context.Context, call Call, customerID, subscriptionID, eligibilityType string) ([]TransitionEligibility, *Response, error) {
	const op = OpTransitionEligibility
	p, err := subscriptionPath(op, customerID, subscriptionID, "transitionEligibilities")
	if err != nil {
		return nil, nil, err
	}
	if t := strings.TrimSpace(eligibilityType); t != "" {
		p += "?" + url.Values{"eligibilityType": {t}}.Encode()
	}
	r, err := s.client.newRequest(ctx, http.MethodGet, p, nil, call)
	if err != nil {
		return nil, nil, err
	}
	var out collection[TransitionEligibility]
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return out.list(), resp, nil
}

// Create starts a transition of the subscription and returns it with its
// first events. ToCatalogItemID, Quantity and TransitionType are required.
//
//	POST /v1/customers/{customerId}/subscriptions/{subscriptionId}/transitions
func (s *TransitionsService) Create(ctx context.Context, call Call, customerID, subscriptionID string, t Transition) (*Transition, *Response, error) {
	const op = OpTransitionCreate
	p, err := subscriptionPath(op, customerID, subscriptionID, "transitions")
	if err != nil {
		return nil, nil, err
	}
	if _, err := pathID(op, "target catalog item id", t.ToCatalogItemID); err != nil {
		return nil, nil, err
	}
	if _, err := pathID(op, "transition type", t.TransitionType); err != nil {
		return nil, nil, err
	}
	r, err := s.client.newRequest(ctx, http.MethodPost, p, t, call)
	if err != nil {
		return nil, nil, err
	}
	var out Transition
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return &out, resp, nil
}

// List returns the transition history of the subscription, only the
// transition operationID when it is not empty. It accepts the documented
// collection envelope ("items") as well as the root "transition" array of
// the documentation sample.
//
//	GET /v1/customers/{customerId}/subscriptions/{subscriptionId}/transitions[?operationId=]
func (s *TransitionsService) List(ctx context.Context, call Call, customerID, subscriptionID, operationID string) ([]Transition, *Response, error) {
	const op = OpTransitionList
	p, err := subscriptionPath(op, customerID, subscriptionID, "transitions")
	if err != nil {
		return nil, nil, err
	}
	if id := strings.TrimSpace(operationID); id != "" {
		p += "?" + url.Values{"operationId": {id}}.Encode()
	}
	r, err := s.client.newRequest(ctx, http.MethodGet, p, nil, call)
	if err != nil {
		return nil, nil, err
	}
	out := collection[Transition]{altKeys: []string{"transition", "transitions"}}
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return out.list(), resp, nil
}

// TransitionEligibility is one catalog item the subscription may transition
// to.
type TransitionEligibility struct {
	OperationID string `json:"operationId,omitempty"`
	// CatalogItemID is "{productId}:{skuId}:{availabilityId}".
	CatalogItemID string `json:"catalogItemId"`
	Title         string `json:"title,omitempty"`
	Description   string `json:"description,omitempty"`
	Quantity      int    `json:"quantity"`
	// Eligibilities has one entry per transition type.
	Eligibilities []TransitionEligibilityDetail `json:"eligibilities"`
	// SubscriptionEligibilities lists existing subscriptions that could be
	// the target; empty for trials and scheduled transitions.
	SubscriptionEligibilities []TargetSubscriptionEligibilityDetail `json:"subscriptionEligibilities"`
}

// Eligible reports whether the transition type (TransitionTypeOnly, say) is
// eligible, comparing the type case-insensitively.
func (e *TransitionEligibility) Eligible(transitionType string) bool {
	if e == nil {
		return false
	}
	for _, d := range e.Eligibilities {
		if d.IsEligible && strings.EqualFold(strings.TrimSpace(d.TransitionType), strings.TrimSpace(transitionType)) {
			return true
		}
	}
	return false
}

// TransitionEligibilityDetail says whether one transition type is eligible.
type TransitionEligibilityDetail struct {
	IsEligible     bool              `json:"isEligible"`
	TransitionType string            `json:"transitionType"`
	Errors         []TransitionError `json:"errors"`
}

// TargetSubscriptionEligibilityDetail says whether an existing subscription
// can be the target of the transition.
type TargetSubscriptionEligibilityDetail struct {
	IsEligible               bool                      `json:"isEligible"`
	SubscriptionID           string                    `json:"subscriptionId"`
	SubscriptionFriendlyName string                    `json:"subscriptionFriendlyName,omitempty"`
	SubscriptionTermDuration string                    `json:"subscriptionTermDuration,omitempty"`
	SubscriptionBillingCycle string                    `json:"subscriptionBillingCycle,omitempty"`
	Errors                   []TargetSubscriptionError `json:"errors"`
}

// TransitionError says why a transition is not eligible or failed.
type TransitionError struct {
	Code        TransitionErrorCode `json:"code"`
	Description string              `json:"description,omitempty"`
	// WireCode is the code exactly as Partner Center sent it: a number's
	// digits, or a name as spelled. Empty when it sent none. It is not
	// encoded (Code is).
	WireCode string `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler, keeping the code as sent.
func (e *TransitionError) UnmarshalJSON(b []byte) error {
	type plain TransitionError
	var aux struct {
		plain
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = TransitionError(aux.plain)
	e.Code = TransitionErrorCode(decodeEnum(aux.Code, transitionErrorCodeNames))
	e.WireCode = wireCode(aux.Code)
	return nil
}

// CodeText is the code as Partner Center sent it (WireCode), or Code's
// number when the error was not decoded from Partner Center's answer.
func (e TransitionError) CodeText() string {
	if e.WireCode != "" {
		return e.WireCode
	}
	return strconv.Itoa(int(e.Code))
}

// TargetSubscriptionError says why a subscription cannot be the target.
type TargetSubscriptionError struct {
	Code        TargetSubscriptionErrorCode `json:"code"`
	Description string                      `json:"description,omitempty"`
}

// Transition is a transition request and, as returned, its progress.
type Transition struct {
	// OperationID identifies the transition; set by the service.
	OperationID        string `json:"operationId,omitempty"`
	FromCatalogItemID  string `json:"fromCatalogItemId,omitempty"`
	FromSubscriptionID string `json:"fromSubscriptionId,omitempty"`
	// ToCatalogItemID is required.
	ToCatalogItemID string `json:"toCatalogItemId"`
	// ToSubscriptionID, when set, transitions into an existing subscription.
	ToSubscriptionID string `json:"toSubscriptionId,omitempty"`
	// Quantity is required.
	Quantity     int    `json:"quantity"`
	TermDuration string `json:"termDuration,omitempty"`
	BillingCycle string `json:"billingCycle,omitempty"`
	// TransitionType is TransitionTypeOnly or TransitionTypeWithLicenseTransfer.
	TransitionType string `json:"transitionType"`
	PromotionID    string `json:"promotionId,omitempty"`
	// Events is the progress, oldest first; set by the service.
	Events []TransitionEvent `json:"events,omitempty"`
}

// Terminal reports whether the transition has finished: its Conversion
// event failed, or the latest event of every name has completed or failed.
// An event that failed while the Conversion is still running does not end
// it: whether the subscription was converted is not known yet.
func (t *Transition) Terminal() bool { return t != nil && t.state() != upgradeRunning }

// Succeeded reports whether the latest event of every name has completed.
func (t *Transition) Succeeded() bool { return t != nil && t.state() == upgradeSucceeded }

// Failed reports whether the transition finished without converting the
// subscription: it is terminal, some event failed and the Conversion did
// not complete.
func (t *Transition) Failed() bool { return t != nil && t.state() == upgradeFailed && !t.Converted() }

// Converted reports whether the latest Conversion event completed: Partner
// Center carried out the transition of the subscription, whatever later
// events (a license reassignment) say.
func (t *Transition) Converted() bool {
	if t == nil {
		return false
	}
	st, ok := t.latest()[conversionEvent]
	return ok && st == upgradeSucceeded
}

// Partial reports whether the transition finished with the subscription
// converted but a later event failed: done at Partner Center, yet with
// something a person must look at.
func (t *Transition) Partial() bool {
	return t != nil && t.state() == upgradeFailed && t.Converted()
}

// Unknown reports whether the latest event of some name has a status value
// the client does not know (see KnownRunningStatuses) and the transition is
// not terminal.
func (t *Transition) Unknown() bool {
	if t == nil || t.Terminal() {
		return false
	}
	for _, st := range t.latest() {
		if st == upgradeUnknown {
			return true
		}
	}
	return false
}

// conversionEvent is the folded name of the event that converts the
// subscription.
const conversionEvent = "conversion"

// latest returns the state of the latest event of each name (names folded
// to lower case without separators).
func (t *Transition) latest() map[string]upgradeState {
	latest := make(map[string]upgradeState)
	for _, e := range t.Events {
		latest[foldEnumName(strings.TrimSpace(e.Name))] = classifyTransitionStatus(e.Status)
	}
	return latest
}

// state is upgradeRunning until the transition is terminal, then
// upgradeSucceeded when every name's latest event completed and
// upgradeFailed otherwise.
func (t *Transition) state() upgradeState {
	if len(t.Events) == 0 {
		return upgradeRunning
	}
	latest := t.latest()
	if latest[conversionEvent] == upgradeFailed {
		return upgradeFailed
	}
	failed := false
	for _, st := range latest {
		switch st {
		case upgradeFailed:
			failed = true
		case upgradeSucceeded:
		default:
			return upgradeRunning
		}
	}
	if failed {
		return upgradeFailed
	}
	return upgradeSucceeded
}

// TransitionEvent is one step of a transition, such as "Conversion" or
// "LicenseReassignment" (the SDK says "SeatReassignment").
type TransitionEvent struct {
	Name string `json:"name"`
	// Status is "Started" or "InProgress" (running), "Completed" or
	// "Failed", compared trimmed and case-insensitively by Terminal,
	// Succeeded and Failed.
	Status string `json:"status"`
	// Timestamp is when the event happened, in UTC; nil when the server sent
	// none or an unreadable one.
	Timestamp *time.Time        `json:"timestamp,omitempty"`
	Errors    []TransitionError `json:"errors,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, reading timestamp leniently.
func (e *TransitionEvent) UnmarshalJSON(b []byte) error {
	type plain TransitionEvent
	var aux struct {
		plain
		Timestamp flexTime `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = TransitionEvent(aux.plain)
	e.Timestamp = aux.Timestamp.t
	return nil
}

// Terminal reports whether the event has finished.
func (e *TransitionEvent) Terminal() bool {
	return e != nil && classifyTransitionStatus(e.Status).terminal()
}

// Succeeded reports whether the event completed.
func (e *TransitionEvent) Succeeded() bool {
	return e != nil && classifyTransitionStatus(e.Status) == upgradeSucceeded
}

// Failed reports whether the event failed.
func (e *TransitionEvent) Failed() bool {
	return e != nil && classifyTransitionStatus(e.Status) == upgradeFailed
}

// classifyTransitionStatus maps an event status to a state: "completed"
// (trimmed, any case) succeeded, anything mentioning "fail" or "cancel"
// failed, the values of KnownRunningStatuses ("Started", "InProgress", "")
// running and anything else unknown.
func classifyTransitionStatus(s string) upgradeState { return classifyUpgradeStatus(s) }
