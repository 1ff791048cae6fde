package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Subscription upgrades (legacy, license-based) and transitions (new
// commerce), both under /v1/customers/{c}/subscriptions/{s}/:
//
//	GET  upgrades                                 -> collection of Upgrade
//	POST upgrades                                 -> 200 UpgradeResult
//	GET  transitionEligibilities?eligibilityType= -> collection of TransitionEligibility
//	POST transitions                              -> 200 Transition (events: Conversion/Started)
//	GET  transitions[?operationId=]               -> collection of Transition
//
// App-only and app+user tokens are both accepted. Every (customer,
// subscription) pair gets a deterministic invented answer from the seed:
// 0-2 eligible targets, and ineligible ones with realistic error codes
// (IneligibleShare of the pairs have no eligible target at all).
// Transitions last a deterministic duration in MinDuration..MaxDuration
// and FailShare of them fail; with Options.Partial, some convert and then
// fail their LicenseReassignment (with two errors), and some report an
// undocumented Conversion status forever. Choices where the documentation
// is silent:
//   - A second upgrade POST for an already upgraded source gets
//     400/800012 (the source is no longer active).
//   - A transition POST into an existing subscription (toSubscriptionId)
//     that the eligibility lists as not eligible gets 400/900267, one it
//     does not list for that catalog item 400/900260.
//   - A transition POST while one is running gets 409/900278; after the
//     previous one finished, a new transition is created (and counted as a
//     duplicate in Stats).
//   - upgrade_with_license_transfer upgrades report licenseErrors for
//     LicenseErrorShare of the customers; with an app-only token they
//     report upgradeErrors code 5 (user_context_required) instead.

// Upgrade types.
const (
	upgradeTypeNone                = 0
	upgradeTypeOnly                = 1
	upgradeTypeWithLicenseTransfer = 2
)

var upgradeTypeNames = []string{"none", "upgrade_only", "upgrade_with_license_transfer"}

// flexUpgradeType decodes an UpgradeType given as integer or snake string.
type flexUpgradeType int

func (f *flexUpgradeType) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexUpgradeType(n)
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return err
	}
	norm := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(str), "_", ""))
	for i, name := range upgradeTypeNames {
		if norm == strings.ReplaceAll(name, "_", "") {
			*f = flexUpgradeType(i)
			return nil
		}
	}
	*f = upgradeTypeNone
	return nil
}

type offerProduct struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Unit string `json:"unit"`
}

type offer struct {
	ID                     string             `json:"id"`
	Name                   string             `json:"name"`
	Description            string             `json:"description"`
	MinimumQuantity        int                `json:"minimumQuantity"`
	MaximumQuantity        int                `json:"maximumQuantity"`
	Rank                   int                `json:"rank"`
	URI                    string             `json:"uri"`
	Locale                 string             `json:"locale"`
	Country                string             `json:"country"`
	Category               map[string]string  `json:"category"`
	PrerequisiteOffers     []string           `json:"prerequisiteOffers"`
	IsAddOn                bool               `json:"isAddOn"`
	IsAvailableForPurchase bool               `json:"isAvailableForPurchase"`
	Billing                string             `json:"billing"`
	IsAutoRenewable        bool               `json:"isAutoRenewable"`
	IsInternal             bool               `json:"isInternal"`
	ConversionTargetOffers []string           `json:"conversionTargetOffers"`
	Product                offerProduct       `json:"product"`
	UnitType               string             `json:"unitType"`
	Attributes             resourceAttributes `json:"attributes"`
}

type upgradeError struct {
	Code              int                `json:"code"`
	Description       string             `json:"description"`
	AdditionalDetails string             `json:"additionalDetails,omitempty"`
	Attributes        resourceAttributes `json:"attributes"`
}

type upgradeItem struct {
	TargetOffer   offer              `json:"targetOffer"`
	UpgradeType   string             `json:"upgradeType"`
	IsEligible    bool               `json:"isEligible"`
	Quantity      int                `json:"quantity"`
	UpgradeErrors []upgradeError     `json:"upgradeErrors"`
	Attributes    resourceAttributes `json:"attributes"`
}

type upgradeRequest struct {
	TargetOffer struct {
		ID string `json:"id"`
	} `json:"targetOffer"`
	UpgradeType flexUpgradeType `json:"upgradeType"`
	Quantity    int             `json:"quantity"`
}

type userLicenseError struct {
	UserObjectID string             `json:"userObjectId"`
	Name         string             `json:"name"`
	Email        string             `json:"email"`
	Errors       []apiFault         `json:"errors"`
	Attributes   resourceAttributes `json:"attributes"`
}

type upgradeResult struct {
	SourceSubscriptionID string             `json:"sourceSubscriptionId"`
	TargetSubscriptionID string             `json:"targetSubscriptionId"`
	UpgradeType          int                `json:"upgradeType"`
	UpgradeErrors        []upgradeError     `json:"upgradeErrors"`
	LicenseErrors        []userLicenseError `json:"licenseErrors"`
	Attributes           resourceAttributes `json:"attributes"`
}

type collection[T any] struct {
	TotalCount int                `json:"totalCount"`
	Items      []T                `json:"items"`
	Attributes resourceAttributes `json:"attributes"`
}

func newCollection[T any](items []T) collection[T] {
	if items == nil {
		items = []T{}
	}
	return collection[T]{TotalCount: len(items), Items: items, Attributes: resourceAttributes{ObjectType: "Collection"}}
}

// subscriptionUpgrade is one created subscription upgrade.
type subscriptionUpgrade struct {
	customerID, sourceID, targetID string
	offerID                        string
	upgradeType                    int
	createdAt                      time.Time
}

// catalogOffer is a legacy offer a subscription may be upgraded to.
type catalogOffer struct{ id, name, product string }

func legacyOffers() []catalogOffer {
	return []catalogOffer{
		{"91FD106F-4B2C-4938-95AC-F54F74E9A239", "Office 365 Enterprise E1", "Office 365 E1"},
		{"796B6B5F-613C-4E24-A17C-EBA730D49C02", "Office 365 Enterprise E3", "Office 365 E3"},
		{"A044B16A-1861-4308-8086-A3A3B506FAC2", "Office 365 Enterprise E5", "Office 365 E5"},
		{"CA4BE917-FBCE-4B52-839E-6647467A1668", "Microsoft 365 Business Basic", "Microsoft 365 Business Basic"},
		{"031C9E47-4802-4248-838E-778FB1D2CC05", "Microsoft 365 Business Standard", "Microsoft 365 Business Standard"},
		{"8B8A8A39-F6F2-4F8B-B6A6-C4C5B6B6E1F0", "Microsoft 365 Business Premium", "Microsoft 365 Business Premium"},
	}
}

var upgradeErrorTexts = map[int]string{
	2: "The source subscription state is not active.",
	3: "The source subscription has conflicting service types with the target offer.",
	4: "The target offer can't be purchased together with existing subscriptions (concurrency conflict).",
	5: "This upgrade requires a user context; an application-only request can't upgrade with license transfer.",
	6: "The source subscription has add-ons. Remove them before upgrading.",
	7: "The subscription doesn't have any upgrade paths.",
	9: "The subscription isn't provisioned yet. Try again later.",
}

func newUpgradeError(code int) upgradeError {
	return upgradeError{Code: code, Description: upgradeErrorTexts[code], Attributes: resourceAttributes{ObjectType: "UpgradeError"}}
}

// pairKey is the lower-cased "customer/subscription" of a request.
func pairKey(req *request) string {
	return subscriptionPair(req.params["customerId"], req.params["subscriptionId"])
}

// subscriptionPair is the lower-cased "customer/subscription" key of a pair:
// the id of its draws and of its records.
func subscriptionPair(customerID, subscriptionID string) string {
	return strings.ToLower(customerID + "/" + subscriptionID)
}

// upgradeTargetID is the targetSubscriptionId a subscription upgrade of
// pair to offerID reports.
func (s *Simulator) upgradeTargetID(pair, offerID string) string {
	return s.guid(pair, "sub-target/"+strings.ToLower(offerID))
}

// licenseErrors returns the licenseErrors a delegated (app+user)
// upgrade_with_license_transfer of pair reports; customer is the
// lower-cased customer id (a GUID). Empty, not nil, when there are none.
func (s *Simulator) licenseErrors(customer, pair string) []userLicenseError {
	out := []userLicenseError{}
	if s.draw(customer, "license-errors") >= s.opts.LicenseErrorShare {
		return out
	}
	n := 1 + int(s.draw(pair, "license-error-count")*3)
	for i := range n {
		out = append(out, userLicenseError{
			UserObjectID: s.guid(pair, "license-user/"+strconv.Itoa(i)),
			Name:         fmt.Sprintf("User %d", i+1),
			Email:        fmt.Sprintf("user%d@%s.onmicrosoft.com", i+1, customer[:8]),
			Errors:       []apiFault{{Code: 60000, Description: "Customer license migration failed: the user already has a conflicting license assigned.", Data: []any{}, Source: errorSource}},
			Attributes:   resourceAttributes{ObjectType: "UserLicenseError"},
		})
	}
	return out
}

// upgradePaths returns the deterministic upgrade items of a pair.
func (s *Simulator) upgradePaths(pair string) []upgradeItem {
	offers := legacyOffers()
	start := int(s.draw(pair, "sub-offers") * float64(len(offers)))
	ineligible := s.draw(pair, "sub-ineligible") < s.opts.IneligibleShare
	nEligible := 0
	if !ineligible {
		nEligible = min(2, int(s.draw(pair, "sub-eligible-count")*3))
	}
	nIneligible := 1 + int(s.draw(pair, "sub-ineligible-count")*2)
	if ineligible || nEligible == 0 {
		nIneligible = max(nIneligible, 1)
	}
	qty := 1 + int(s.draw(pair, "sub-quantity")*25)
	codes := []int{2, 3, 4, 6, 7, 9}
	var items []upgradeItem
	for i := range nEligible + nIneligible {
		o := offers[(start+i)%len(offers)]
		it := upgradeItem{
			TargetOffer: offer{
				ID: o.id, Name: o.name, Description: o.name + " for business.",
				MinimumQuantity: 1, MaximumQuantity: 10000000, Rank: 100 + i,
				URI: "/offers/" + o.id, Locale: "en-US", Country: "US",
				Category:           map[string]string{"id": "Enterprise", "name": "Enterprise", "rank": "20", "locale": "en-US"},
				PrerequisiteOffers: []string{}, IsAvailableForPurchase: true, Billing: "license",
				IsAutoRenewable: true, ConversionTargetOffers: []string{},
				Product:    offerProduct{ID: strings.ToLower(o.id[:8]), Name: o.product, Unit: "Licenses"},
				UnitType:   "Licenses",
				Attributes: resourceAttributes{ObjectType: "Offer"},
			},
			UpgradeType:   upgradeTypeNames[upgradeTypeWithLicenseTransfer],
			IsEligible:    i < nEligible,
			Quantity:      qty,
			UpgradeErrors: []upgradeError{},
			Attributes:    resourceAttributes{ObjectType: "Upgrade"},
		}
		if s.draw(pair, "sub-type/"+strconv.Itoa(i)) < 0.4 {
			it.UpgradeType = upgradeTypeNames[upgradeTypeOnly]
		}
		if !it.IsEligible {
			code := codes[int(s.draw(pair, "sub-code/"+strconv.Itoa(i))*float64(len(codes)))]
			if ineligible {
				code = 7
				if s.draw(pair, "sub-code") < 0.5 {
					code = 2
				}
			}
			it.UpgradeErrors = []upgradeError{newUpgradeError(code)}
		}
		items = append(items, it)
	}
	return items
}

// subscriptionUpgrades serves GET .../upgrades. Once the source was
// upgraded, every path lists it as not active (code 2).
func (s *Simulator) subscriptionUpgrades(req *request) response {
	if bad := validPair(req); bad != nil {
		return *bad
	}
	pair := pairKey(req)
	paths := s.upgradePaths(pair)
	if _, done := s.subUpgrades[pair]; done {
		// An upgraded source is no longer active: every path is refused
		// with code 2, as Partner Center lists it.
		for i := range paths {
			paths[i].IsEligible = false
			paths[i].UpgradeErrors = []upgradeError{newUpgradeError(2)}
		}
	}
	return jsonResponse(http.StatusOK, newCollection(paths))
}

func validPair(req *request) *response {
	if _, ok := customerKey(req.params["customerId"]); !ok {
		r := partnerError(http.StatusBadRequest, codeInvalidCustomerID, descInvalidCustomerID)
		return &r
	}
	if _, err := uuid.Parse(req.params["subscriptionId"]); err != nil {
		r := partnerError(http.StatusNotFound, 20003, "Subscription not found")
		return &r
	}
	return nil
}

// subscriptionUpgradeCreate serves POST .../upgrades.
func (s *Simulator) subscriptionUpgradeCreate(req *request) response {
	if bad := validPair(req); bad != nil {
		return *bad
	}
	var in upgradeRequest
	if err := json.Unmarshal(req.body, &in); err != nil || in.TargetOffer.ID == "" {
		return partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": the request body is not a valid Upgrade.")
	}
	pair := pairKey(req)
	var chosen *upgradeItem
	paths := s.upgradePaths(pair)
	for i := range paths {
		if paths[i].IsEligible && strings.EqualFold(paths[i].TargetOffer.ID, in.TargetOffer.ID) {
			chosen = &paths[i]
		}
	}
	if chosen == nil {
		return partnerError(http.StatusBadRequest, codeInvalidInput, fmt.Sprintf(
			"%s: subscription_target_offer_not_found: the offer %s is not an eligible upgrade path of subscription %s.",
			descInvalidInput, in.TargetOffer.ID, req.params["subscriptionId"]))
	}
	if _, done := s.subUpgrades[pair]; done {
		return partnerError(http.StatusBadRequest, codeSubscriptionNotActive, descSubscriptionNotActive+": the subscription was already upgraded.")
	}
	customer := strings.ToLower(req.params["customerId"])
	out := upgradeResult{
		SourceSubscriptionID: req.params["subscriptionId"],
		UpgradeType:          int(in.UpgradeType),
		UpgradeErrors:        []upgradeError{},
		LicenseErrors:        []userLicenseError{},
		Attributes:           resourceAttributes{ObjectType: "UpgradeResult"},
	}
	if in.UpgradeType == upgradeTypeWithLicenseTransfer && req.token.appOnly {
		out.UpgradeErrors = []upgradeError{newUpgradeError(5)}
		return jsonResponse(http.StatusOK, out)
	}
	out.TargetSubscriptionID = s.upgradeTargetID(pair, chosen.TargetOffer.ID)
	if in.UpgradeType == upgradeTypeWithLicenseTransfer {
		out.LicenseErrors = s.licenseErrors(customer, pair)
	}
	s.subUpgrades[pair] = &subscriptionUpgrade{
		customerID: customer, sourceID: req.params["subscriptionId"], targetID: out.TargetSubscriptionID,
		offerID: chosen.TargetOffer.ID, upgradeType: int(in.UpgradeType), createdAt: req.now,
	}
	s.recordCreate(customer, pair)
	return jsonResponse(http.StatusOK, out)
}

// Transitions.

type transitionErrorBody struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

type eligibilityDetail struct {
	IsEligible     bool                  `json:"isEligible"`
	TransitionType string                `json:"transitionType"`
	Errors         []transitionErrorBody `json:"errors"`
}

type targetSubscriptionEligibility struct {
	IsEligible               bool                  `json:"isEligible"`
	SubscriptionID           string                `json:"subscriptionId"`
	SubscriptionFriendlyName string                `json:"subscriptionFriendlyName"`
	SubscriptionTermDuration string                `json:"subscriptionTermDuration"`
	SubscriptionBillingCycle string                `json:"subscriptionBillingCycle"`
	Errors                   []transitionErrorBody `json:"errors"`
}

type transitionEligibility struct {
	OperationID               string                          `json:"operationId"`
	CatalogItemID             string                          `json:"catalogItemId"`
	Title                     string                          `json:"title"`
	Description               string                          `json:"description"`
	Quantity                  int                             `json:"quantity"`
	Eligibilities             []eligibilityDetail             `json:"eligibilities"`
	SubscriptionEligibilities []targetSubscriptionEligibility `json:"subscriptionEligibilities"`
	Attributes                resourceAttributes              `json:"attributes"`
}

type transitionEvent struct {
	Name       string                `json:"name"`
	Status     string                `json:"status"`
	Timestamp  string                `json:"timestamp"`
	Errors     []transitionErrorBody `json:"errors,omitempty"`
	Attributes resourceAttributes    `json:"attributes"`
}

type transitionBody struct {
	OperationID        string             `json:"operationId"`
	FromCatalogItemID  string             `json:"fromCatalogItemId,omitempty"`
	FromSubscriptionID string             `json:"fromSubscriptionId,omitempty"`
	ToCatalogItemID    string             `json:"toCatalogItemId"`
	ToSubscriptionID   string             `json:"toSubscriptionId,omitempty"`
	Quantity           int                `json:"quantity"`
	TermDuration       string             `json:"termDuration,omitempty"`
	BillingCycle       string             `json:"billingCycle,omitempty"`
	TransitionType     string             `json:"transitionType"`
	PromotionID        string             `json:"promotionId,omitempty"`
	Events             []transitionEvent  `json:"events"`
	Attributes         resourceAttributes `json:"attributes"`
}

// transition is one created transition.
type transition struct {
	body      transitionBody // as requested, with the operation id
	createdAt time.Time
	transitionFate
}

// transitionFate is how every transition of a pair runs.
type transitionFate struct {
	// duration is how long it runs, in simulated time.
	duration time.Duration
	// fails: it ends with Conversion/Failed.
	fails bool
	// convertedThenFails: with license transfer, Conversion completes and
	// LicenseReassignment then fails (Options.Partial).
	convertedThenFails bool
	// unknown, when set, is the status the Conversion reports instead of
	// finishing, forever (Options.Partial).
	unknown string
}

type nceItem struct{ id, title string }

func nceCatalog() []nceItem {
	return []nceItem{
		{"CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X", "Microsoft 365 Business Basic"},
		{"CFQ7TTC0LCHC:0002:CFQ7TTC0K5QV", "Microsoft 365 Business Standard"},
		{"CFQ7TTC0LCHC:0001:CFQ7TTC0K71H", "Microsoft 365 Business Premium"},
		{"CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV", "Microsoft 365 E3"},
		{"CFQ7TTC0LFLZ:0002:CFQ7TTC0KDNK", "Microsoft 365 E5"},
		{"CFQ7TTC0LF8S:0001:CFQ7TTC0KZCR", "Office 365 E3"},
	}
}

const eventTimeLayout = "2006-01-02T15:04:05.0000000Z"

// transitionTargets returns the deterministic eligibilities of a pair.
func (s *Simulator) transitionTargets(pair string, scheduled bool) []transitionEligibility {
	cat := nceCatalog()
	start := int(s.draw(pair, "tr-catalog") * float64(len(cat)))
	ineligible := s.draw(pair, "tr-ineligible") < s.opts.IneligibleShare
	n := 1 + int(s.draw(pair, "tr-count")*2)
	qty := 1 + int(s.draw(pair, "tr-quantity")*25)
	items := make([]transitionEligibility, 0, n)
	for i := range n {
		c := cat[(start+i)%len(cat)]
		only := eligibilityDetail{IsEligible: !ineligible, TransitionType: "transition_only", Errors: []transitionErrorBody{}}
		lic := eligibilityDetail{IsEligible: !ineligible, TransitionType: "transition_with_license_transfer", Errors: []transitionErrorBody{}}
		if ineligible {
			e := transitionErrorBody{2, "Source subscription is not active."}
			if s.draw(pair, "tr-code") < 0.5 {
				e = transitionErrorBody{9, "Source subscription is not provisioned yet."}
			}
			only.Errors, lic.Errors = []transitionErrorBody{e}, []transitionErrorBody{e}
		} else if s.draw(pair, "tr-lic/"+strconv.Itoa(i)) < 0.3 {
			lic.IsEligible = false
			lic.Errors = []transitionErrorBody{{3, "Conflicting subscriptions for license transfer: the customer has conflicting services."}}
		}
		it := transitionEligibility{
			OperationID:               s.guid(pair, "tr-op/"+strconv.Itoa(i)),
			CatalogItemID:             c.id,
			Title:                     c.title,
			Description:               c.title + " (new commerce).",
			Quantity:                  qty,
			Eligibilities:             []eligibilityDetail{only, lic},
			SubscriptionEligibilities: []targetSubscriptionEligibility{},
			Attributes:                resourceAttributes{ObjectType: "TransitionEligibility"},
		}
		if !scheduled && !ineligible && s.draw(pair, "tr-existing/"+strconv.Itoa(i)) < 0.5 {
			t := targetSubscriptionEligibility{
				IsEligible: true, SubscriptionID: s.guid(pair, "tr-target/"+strconv.Itoa(i)),
				SubscriptionFriendlyName: c.title, SubscriptionTermDuration: "P1Y", SubscriptionBillingCycle: "monthly",
				Errors: []transitionErrorBody{},
			}
			if s.draw(pair, "tr-existing-ok/"+strconv.Itoa(i)) < 0.3 {
				t.IsEligible, t.SubscriptionTermDuration = false, "P1M"
				t.Errors = []transitionErrorBody{{3, "The target subscription's term duration is shorter than the source subscription's term duration."}}
			}
			it.SubscriptionEligibilities = append(it.SubscriptionEligibilities, t)
		}
		items = append(items, it)
	}
	return items
}

// transitionEligibilities serves GET .../transitionEligibilities.
func (s *Simulator) transitionEligibilities(req *request) response {
	if bad := validPair(req); bad != nil {
		return *bad
	}
	typ := strings.ToLower(strings.TrimSpace(req.query.Get("eligibilityType")))
	if typ != "" && typ != "immediate" && typ != "scheduled" {
		return partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": eligibilityType must be immediate or scheduled.")
	}
	return jsonResponse(http.StatusOK, newCollection(s.transitionTargets(pairKey(req), typ == "scheduled")))
}

// transitionCreate serves POST .../transitions.
func (s *Simulator) transitionCreate(req *request) response {
	if bad := validPair(req); bad != nil {
		return *bad
	}
	var in transitionBody
	if err := json.Unmarshal(req.body, &in); err != nil {
		return partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": the request body is not a valid Transition.")
	}
	typ := strings.ToLower(strings.TrimSpace(in.TransitionType))
	if in.ToCatalogItemID == "" || in.Quantity <= 0 || (typ != "transition_only" && typ != "transition_with_license_transfer") {
		return partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": toCatalogItemId, quantity > 0 and transitionType (transition_only or transition_with_license_transfer) are required.")
	}
	pair := pairKey(req)
	if in.ToSubscriptionID != "" && strings.EqualFold(in.ToSubscriptionID, req.params["subscriptionId"]) {
		return partnerError(http.StatusBadRequest, codeTargetSameAsSource, descTargetSameAsSource)
	}
	var target *transitionEligibility
	targets := s.transitionTargets(pair, false)
	for i := range targets {
		if strings.EqualFold(targets[i].CatalogItemID, in.ToCatalogItemID) {
			target = &targets[i]
		}
	}
	eligible := false
	if target != nil {
		for _, e := range target.Eligibilities {
			eligible = eligible || (e.IsEligible && e.TransitionType == typ)
		}
	}
	if !eligible {
		return partnerError(http.StatusBadRequest, codeInvalidInput, fmt.Sprintf(
			"%s: the subscription %s is not eligible for a %s transition to %s.", descInvalidInput, req.params["subscriptionId"], typ, in.ToCatalogItemID))
	}
	if in.ToSubscriptionID != "" {
		if bad := targetSubscriptionRefusal(target, in.ToSubscriptionID); bad != nil {
			return *bad
		}
	}
	list := s.transitions[pair]
	if n := len(list); n > 0 && (req.now.Before(list[n-1].createdAt.Add(list[n-1].duration)) || list[n-1].unknown != "") {
		return partnerError(http.StatusConflict, codePendingOperation, fmt.Sprintf(descPendingOperation, req.params["subscriptionId"]))
	}
	in.TransitionType = typ
	in.OperationID = uuid.NewString()
	if in.FromSubscriptionID == "" {
		in.FromSubscriptionID = req.params["subscriptionId"]
	}
	tr := &transition{body: in, createdAt: req.now, transitionFate: s.transitionRun(pair)}
	s.transitions[pair] = append(list, tr)
	s.recordCreate(strings.ToLower(req.params["customerId"]), pair)
	return jsonResponse(http.StatusOK, tr.view(req.now))
}

// targetSubscriptionRefusal answers a transition into the existing
// subscription toID: nil when the eligibility of target lists it as
// eligible; 400/900267 when it lists it as not eligible (the only
// TargetSubscriptionError the simulator invents is code 3, a shorter
// term); 400/900260 when it does not list it, as the simulator knows no
// other subscription of that catalog item.
func targetSubscriptionRefusal(target *transitionEligibility, toID string) *response {
	for _, t := range target.SubscriptionEligibilities {
		if !strings.EqualFold(t.SubscriptionID, toID) {
			continue
		}
		if t.IsEligible {
			return nil
		}
		r := partnerError(http.StatusBadRequest, codeTargetTermShorter, fmt.Sprintf(descTargetTermShorter, toID))
		return &r
	}
	r := partnerError(http.StatusBadRequest, codeTargetCatalogItemMismatch, fmt.Sprintf(descTargetCatalogItemMismatch, toID, target.CatalogItemID))
	return &r
}

// transitionRun returns how every transition of pair runs: how long (in
// simulated time), whether it ends Failed, or, with Options.Partial,
// converted and then failed, or in an unknown status.
func (s *Simulator) transitionRun(pair string) transitionFate {
	spread := s.opts.MaxDuration - s.opts.MinDuration
	f := transitionFate{
		duration: s.opts.MinDuration + time.Duration(s.draw(pair, "tr-duration")*float64(spread)),
		fails:    s.draw(pair, "tr-fails") < s.opts.FailShare,
	}
	switch {
	case f.fails:
	case s.draw(pair, "tr-unknown-status") < s.opts.Partial.UnknownStatusShare:
		f.unknown = s.opts.Partial.UnknownStatus
	case s.draw(pair, "tr-converted-then-fails") < s.opts.Partial.ConvertedThenFailedShare:
		f.convertedThenFails = true
	}
	return f
}

// view renders a transition with the events that happened by now.
func (t *transition) view(now time.Time) transitionBody {
	out := t.body
	out.Attributes = resourceAttributes{ObjectType: "Transition"}
	ev := func(name, status string, at time.Time, errs ...transitionErrorBody) transitionEvent {
		return transitionEvent{Name: name, Status: status, Timestamp: at.UTC().Format(eventTimeLayout), Errors: errs,
			Attributes: resourceAttributes{ObjectType: "TransitionEvent"}}
	}
	out.Events = []transitionEvent{ev("Conversion", "Started", t.createdAt)}
	end := t.createdAt.Add(t.duration)
	license := t.body.TransitionType == "transition_with_license_transfer"
	half := t.createdAt.Add(t.duration / 2)
	if license && !now.Before(half) {
		out.Events = append(out.Events, ev("LicenseReassignment", "Started", half))
	}
	if now.Before(end) {
		return out
	}
	if t.unknown != "" {
		out.Events = append(out.Events, ev("Conversion", t.unknown, end))
		return out
	}
	if license && t.convertedThenFails {
		out.Events = append(out.Events, ev("Conversion", "Completed", end), ev("LicenseReassignment", "Failed", end,
			transitionErrorBody{12, "License transfer failed for one or more users."},
			transitionErrorBody{0, "The licenses of 2 users could not be reassigned: they already hold conflicting licenses."}))
		return out
	}
	if t.fails {
		if license {
			out.Events = append(out.Events, ev("LicenseReassignment", "Failed", end, transitionErrorBody{12, "License transfer failed for one or more users."}))
		}
		out.Events = append(out.Events, ev("Conversion", "Failed", end, transitionErrorBody{0, "The transition could not be completed."}))
		return out
	}
	if license {
		out.Events = append(out.Events, ev("LicenseReassignment", "Completed", end))
	}
	out.Events = append(out.Events, ev("Conversion", "Completed", end))
	return out
}

// transitionList serves GET .../transitions[?operationId=].
func (s *Simulator) transitionList(req *request) response {
	if bad := validPair(req); bad != nil {
		return *bad
	}
	op := strings.TrimSpace(req.query.Get("operationId"))
	var items []transitionBody
	for _, t := range s.transitions[pairKey(req)] {
		if op == "" || strings.EqualFold(op, t.body.OperationID) {
			items = append(items, t.view(req.now))
		}
	}
	return jsonResponse(http.StatusOK, newCollection(items))
}
