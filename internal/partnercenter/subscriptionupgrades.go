package partnercenter

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// SubscriptionUpgradesService upgrades traditional license-based
// subscriptions to another offer (not for new commerce subscriptions; use
// Transitions for those). Both endpoints accept app-only and app+user
// credentials, although some upgrades need a user (UpgradeErrorUserContextRequired).
//
// Each method returns a non-nil *Response whenever it sent a request; the
// *Response is nil only when the arguments were rejected before sending
// (ErrInvalidArgument).
type SubscriptionUpgradesService service

// List returns the upgrades available to the subscription, each saying
// whether it is eligible and, if not, why.
//
//	GET /v1/customers/{customerId}/subscriptions/{subscriptionId}/upgrades
func (s *SubscriptionUpgradesService) List(ctx context.Context, call Call, customerID, subscriptionID string) ([]Upgrade, *Response, error) {
	const op = OpSubscriptionUpgradeList
	p, err := subscriptionPath(op, customerID, subscriptionID, "upgrades")
	if err != nil {
		return nil, nil, err
	}
	r, err := s.client.newRequest(ctx, http.MethodGet, p, nil, call)
	if err != nil {
		return nil, nil, err
	}
	var out collection[Upgrade]
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return out.list(), resp, nil
}

// Perform upgrades the subscription (the source) to the upgrade chosen from
// List, which is sent whole. Fields of the target offer that Offer does not
// model are sent back as they were received.
//
//	POST /v1/customers/{customerId}/subscriptions/{subscriptionId}/upgrades
func (s *SubscriptionUpgradesService) Perform(ctx context.Context, call Call, customerID, subscriptionID string, up Upgrade) (*UpgradeResult, *Response, error) {
	const op = OpSubscriptionUpgradePerform
	p, err := subscriptionPath(op, customerID, subscriptionID, "upgrades")
	if err != nil {
		return nil, nil, err
	}
	if _, err := pathID(op, "target offer id", up.TargetOffer.ID); err != nil {
		return nil, nil, err
	}
	r, err := s.client.newRequest(ctx, http.MethodPost, p, up, call)
	if err != nil {
		return nil, nil, err
	}
	var out UpgradeResult
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return &out, resp, nil
}

// Upgrade is one possible upgrade of a subscription.
type Upgrade struct {
	// TargetOffer is the offer the subscription would be upgraded to.
	TargetOffer Offer `json:"targetOffer"`
	// UpgradeType says whether user licenses move too.
	UpgradeType UpgradeType `json:"upgradeType"`
	// IsEligible reports whether the upgrade may be performed.
	IsEligible bool `json:"isEligible"`
	// Quantity is the number of licenses; by default the source's.
	Quantity int `json:"quantity"`
	// UpgradeErrors says why the upgrade is not eligible.
	UpgradeErrors []UpgradeError `json:"upgradeErrors"`
}

// UpgradeError says why an upgrade is not eligible or failed.
type UpgradeError struct {
	Code              UpgradeErrorCode `json:"code"`
	Description       string           `json:"description,omitempty"`
	AdditionalDetails string           `json:"additionalDetails,omitempty"`
	// WireCode is the code exactly as Partner Center sent it: a number's
	// digits, or a name as spelled. Empty when it sent none. It is not
	// encoded (Code is).
	WireCode string `json:"-"`
}

// UnmarshalJSON implements json.Unmarshaler, keeping the code as sent.
func (e *UpgradeError) UnmarshalJSON(b []byte) error {
	type plain UpgradeError
	var aux struct {
		plain
		Code json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = UpgradeError(aux.plain)
	e.Code = UpgradeErrorCode(decodeEnum(aux.Code, upgradeErrorCodeNames))
	e.WireCode = wireCode(aux.Code)
	return nil
}

// CodeText is the code as Partner Center sent it (WireCode), or Code's
// number when the error was not decoded from Partner Center's answer.
func (e UpgradeError) CodeText() string {
	if e.WireCode != "" {
		return e.WireCode
	}
	return strconv.Itoa(int(e.Code))
}

// UpgradeResult is the outcome of Perform.
type UpgradeResult struct {
	SourceSubscriptionID string             `json:"sourceSubscriptionId"`
	TargetSubscriptionID string             `json:"targetSubscriptionId"`
	UpgradeType          UpgradeType        `json:"upgradeType"`
	UpgradeErrors        []UpgradeError     `json:"upgradeErrors"`
	LicenseErrors        []UserLicenseError `json:"licenseErrors"`
}

// Succeeded reports whether the upgrade reported no errors at all.
func (r *UpgradeResult) Succeeded() bool {
	return r != nil && len(r.UpgradeErrors) == 0 && len(r.LicenseErrors) == 0
}

// UserLicenseError says why the licenses of one user could not be moved.
type UserLicenseError struct {
	UserObjectID string         `json:"userObjectId"`
	Name         string         `json:"name,omitempty"`
	Email        string         `json:"email,omitempty"`
	Errors       []ServiceFault `json:"errors,omitempty"`
}

// ServiceFault is an error entry in the shape of the standard error body.
// Code may arrive as a number or a string; it is kept as sent.
type ServiceFault struct {
	Code        string `json:"code,omitempty"`
	Description string `json:"description,omitempty"`
	// Data is the fault's data, each entry as text (a string as is, any
	// other JSON value as its JSON text).
	Data   []string `json:"data,omitempty"`
	Source string   `json:"source,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, accepting a numeric code and
// data of any shape.
func (f *ServiceFault) UnmarshalJSON(b []byte) error {
	type plain ServiceFault
	var aux struct {
		plain
		Code flexString        `json:"code"`
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*f = ServiceFault(aux.plain)
	f.Code = string(aux.Code)
	f.Data = nil
	for _, d := range aux.Data {
		var text flexString
		if err := text.UnmarshalJSON(d); err == nil && text != "" {
			f.Data = append(f.Data, string(text))
		}
	}
	return nil
}

// Offer is a catalog offer, as the target of an upgrade. Only the fields the
// orchestrator reads are modelled; the others are kept as received and sent
// back by MarshalJSON, so an Upgrade from List can be passed to Perform
// unchanged.
type Offer struct {
	ID                     string        `json:"id"`
	Name                   string        `json:"name,omitempty"`
	Description            string        `json:"description,omitempty"`
	MinimumQuantity        int           `json:"minimumQuantity"`
	MaximumQuantity        int           `json:"maximumQuantity"`
	Rank                   int           `json:"rank,omitempty"`
	Locale                 string        `json:"locale,omitempty"`
	Country                string        `json:"country,omitempty"`
	IsAddOn                bool          `json:"isAddOn"`
	IsAvailableForPurchase bool          `json:"isAvailableForPurchase"`
	Billing                string        `json:"billing,omitempty"`
	IsAutoRenewable        bool          `json:"isAutoRenewable"`
	UnitType               string        `json:"unitType,omitempty"`
	Product                *OfferProduct `json:"product,omitempty"`

	// extra holds the members not modelled above, by their received name.
	extra map[string]json.RawMessage
}

// OfferProduct is the product an offer sells.
type OfferProduct struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Unit string `json:"unit,omitempty"`
}

// offerFields is Offer without its methods, for the default encoding of
// its modelled members (encoding/json ignores the unexported extra).
type offerFields Offer

// offerKeys are the JSON names Offer models.
var offerKeys = []string{
	"id", "name", "description", "minimumQuantity", "maximumQuantity", "rank", "locale", "country",
	"isAddOn", "isAvailableForPurchase", "billing", "isAutoRenewable", "unitType", "product",
}

// isOfferKey reports whether encoding/json would decode member k into a
// modelled field; it matches names with the same case folding.
func isOfferKey(k string) bool {
	for _, known := range offerKeys {
		if strings.EqualFold(k, known) {
			return true
		}
	}
	return false
}

// UnmarshalJSON implements json.Unmarshaler, keeping unmodelled members.
func (o *Offer) UnmarshalJSON(b []byte) error {
	var f offerFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	*o = Offer(f)
	o.extra = nil
	for k, v := range all {
		if isOfferKey(k) {
			continue
		}
		if o.extra == nil {
			o.extra = make(map[string]json.RawMessage)
		}
		o.extra[k] = v
	}
	return nil
}

// MarshalJSON implements json.Marshaler: the modelled fields in camelCase,
// then the unmodelled members as received.
func (o Offer) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(offerFields(o))
	if err != nil || len(o.extra) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range o.extra {
		m[k] = v
	}
	return json.Marshal(m)
}
