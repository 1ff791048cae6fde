package simulator

import (
	"strconv"
	"strings"
	"time"
)

// Ground truth for subscription upgrades and transitions. The predictions
// call the same code as the handlers in subscriptions.go (upgradePaths,
// upgradeTargetID, licenseErrors, transitionTargets, transitionRun), so
// they cannot drift from what the endpoints answer.

// SubscriptionUpgradeOutcome is what the simulator answers for one
// customer/subscription pair's subscription upgrade.
type SubscriptionUpgradeOutcome struct {
	// Paths are the items GET .../upgrades returns, in order.
	Paths []UpgradePath
	// LicenseErrors is the number of licenseErrors a successful POST
	// .../upgrades with upgradeType upgrade_with_license_transfer and an
	// app+user token reports (0 when none). It is the same for every
	// eligible target offer. POSTs with upgrade_only report none, and
	// app-only upgrade_with_license_transfer POSTs report upgradeErrors
	// code 5 instead and create nothing.
	LicenseErrors int
	// LicenseFaults are those license errors' faults, one per fault of
	// each user, in order, with the user's object id, name and e-mail.
	LicenseFaults []LicenseFault

	// targets maps the lower-cased offer id of every eligible path to the
	// targetSubscriptionId a successful POST reports.
	targets map[string]string
}

// LicenseFault is one fault of a user's license error.
type LicenseFault struct {
	UserObjectID, Name, Email string
	// Code is the fault's code as sent (a number); Description and Source
	// its text and reporting component.
	Code, Description, Source string
}

// UpgradePath is one item of GET .../upgrades.
type UpgradePath struct {
	// OfferID and OfferName are the item's targetOffer id and name.
	OfferID   string
	OfferName string
	// UpgradeType is "upgrade_only" or "upgrade_with_license_transfer".
	UpgradeType string
	// Eligible is the item's isEligible: a POST to this offer succeeds
	// (the first time; a second upgrade of the source gets 400/800012).
	// A POST to an ineligible offer gets 400/800002.
	Eligible bool
	// ErrorCodes are the codes of the item's upgradeErrors (empty when
	// Eligible, nil; one of 2, 3, 4, 6, 7, 9 otherwise).
	ErrorCodes []int
}

// EligibleOfferIDs returns the OfferID of every eligible path, in order;
// nil when the subscription has no eligible upgrade path.
func (o SubscriptionUpgradeOutcome) EligibleOfferIDs() []string {
	var ids []string
	for _, p := range o.Paths {
		if p.Eligible {
			ids = append(ids, p.OfferID)
		}
	}
	return ids
}

// TargetSubscriptionID returns the targetSubscriptionId a successful POST
// .../upgrades to offerID (compared case-insensitively) reports, whatever
// the upgradeType. It returns "" when offerID is not an eligible path
// (the POST is rejected with 400/800002).
func (o SubscriptionUpgradeOutcome) TargetSubscriptionID(offerID string) string {
	return o.targets[strings.ToLower(offerID)]
}

// PredictSubscriptionUpgrade returns what the simulator answers to the
// subscription upgrade of subscriptionID of customerID (ids compared
// case-insensitively; the endpoints reject a customer id that is not a
// GUID, and subscription ids that are not UUIDs). It is pure: it depends
// only on the options and the ids, never on requests served.
func (s *Simulator) PredictSubscriptionUpgrade(customerID, subscriptionID string) SubscriptionUpgradeOutcome {
	pair := subscriptionPair(customerID, subscriptionID)
	items := s.upgradePaths(pair)
	out := SubscriptionUpgradeOutcome{
		Paths:   make([]UpgradePath, len(items)),
		targets: make(map[string]string),
	}
	for i, it := range items {
		p := UpgradePath{
			OfferID:     it.TargetOffer.ID,
			OfferName:   it.TargetOffer.Name,
			UpgradeType: it.UpgradeType,
			Eligible:    it.IsEligible,
		}
		for _, e := range it.UpgradeErrors {
			p.ErrorCodes = append(p.ErrorCodes, e.Code)
		}
		if p.Eligible {
			out.targets[strings.ToLower(p.OfferID)] = s.upgradeTargetID(pair, p.OfferID)
		}
		out.Paths[i] = p
	}
	if customer, ok := customerKey(customerID); ok {
		errs := s.licenseErrors(customer, pair)
		out.LicenseErrors = len(errs)
		for _, le := range errs {
			for _, f := range le.Errors {
				out.LicenseFaults = append(out.LicenseFaults, LicenseFault{UserObjectID: le.UserObjectID, Name: le.Name, Email: le.Email,
					Code: strconv.Itoa(f.Code), Description: f.Description, Source: f.Source})
			}
		}
	}
	return out
}

// TransitionOutcome is what the simulator answers for one
// customer/subscription pair's transition.
type TransitionOutcome struct {
	// Targets are the items GET .../transitionEligibilities (immediate,
	// the default eligibilityType) returns, in order.
	Targets []TransitionTarget
	// Fails reports whether a transition of the pair, once created, ends
	// with Conversion/Failed (and, with license transfer,
	// LicenseReassignment/Failed); otherwise it ends Completed. Every
	// transition of a pair has the same outcome.
	Fails bool
	// ConvertedThenFails reports whether a transition of the pair with
	// license transfer ends with Conversion/Completed and then
	// LicenseReassignment/Failed (two errors: 12 and 0): converted, yet
	// with a failed later event (Options.Partial). A transition_only one
	// completes.
	ConvertedThenFails bool
	// UnknownStatus, when set, is the status the Conversion event reports
	// instead of finishing, forever (Options.Partial).
	UnknownStatus string
	// Duration is how long a transition runs after its creation, in
	// simulated time: with Options.ClockSpeedup N it is over after
	// Duration/N on the Options.Now clock. It lies in
	// Options.MinDuration..MaxDuration.
	Duration time.Duration
}

// TransitionTarget is one item of GET .../transitionEligibilities.
type TransitionTarget struct {
	// CatalogItemID is the item's catalogItemId (the toCatalogItemId of
	// a POST).
	CatalogItemID string
	// Quantity is the item's quantity.
	Quantity int
	// EligibleTypes are the transition types with isEligible true, of
	// "transition_only" and "transition_with_license_transfer", in that
	// order; nil when none is. A POST with another type or catalog item
	// gets 400/800002.
	EligibleTypes []string
	// Subscriptions are the item's subscriptionEligibilities: the existing
	// subscriptions a POST may name as toSubscriptionId. One listed as not
	// eligible gets 400/900267, one not listed 400/900260.
	Subscriptions []TargetSubscription
}

// TargetSubscription is one subscriptionEligibilities entry of a
// transition target.
type TargetSubscription struct {
	SubscriptionID string
	Eligible       bool
	// ErrorCode and Description are its first error (TargetSubscriptionErrorCode
	// as a number); zero and "" when it is eligible.
	ErrorCode   int
	Description string
}

// PredictTransition returns what the simulator answers to transitions of
// subscriptionID of customerID (ids compared case-insensitively). It is
// pure: it depends only on the options and the ids, never on requests
// served.
func (s *Simulator) PredictTransition(customerID, subscriptionID string) TransitionOutcome {
	pair := subscriptionPair(customerID, subscriptionID)
	items := s.transitionTargets(pair, false)
	var out TransitionOutcome
	out.Targets = make([]TransitionTarget, len(items))
	for i, it := range items {
		t := TransitionTarget{CatalogItemID: it.CatalogItemID, Quantity: it.Quantity}
		for _, e := range it.Eligibilities {
			if e.IsEligible {
				t.EligibleTypes = append(t.EligibleTypes, e.TransitionType)
			}
		}
		for _, sub := range it.SubscriptionEligibilities {
			ts := TargetSubscription{SubscriptionID: sub.SubscriptionID, Eligible: sub.IsEligible}
			if len(sub.Errors) > 0 {
				ts.ErrorCode, ts.Description = sub.Errors[0].Code, sub.Errors[0].Description
			}
			t.Subscriptions = append(t.Subscriptions, ts)
		}
		out.Targets[i] = t
	}
	f := s.transitionRun(pair)
	out.Duration, out.Fails, out.ConvertedThenFails, out.UnknownStatus = f.duration, f.fails, f.convertedThenFails, f.unknown
	return out
}

// SubscriptionUpgradeCount returns how many subscription upgrades were
// created for subscriptionID of customerID (ids compared
// case-insensitively). Rejected POSTs (400, app-only license transfer),
// replayed responses and faults before the work do not count. An
// exactly-once client never makes it exceed 1.
func (s *Simulator) SubscriptionUpgradeCount(customerID, subscriptionID string) int {
	pair := subscriptionPair(customerID, subscriptionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	// recordCreate counts a pair's subscription upgrades and transitions
	// under the same key (the pair); the transitions are listed apart.
	return s.perTarget[pair] - len(s.transitions[pair])
}

// TransitionCount returns how many transitions were created for
// subscriptionID of customerID (ids compared case-insensitively),
// including ones created after an earlier one had finished. Rejected POSTs
// (400, 409), replayed responses and faults before the work do not count.
func (s *Simulator) TransitionCount(customerID, subscriptionID string) int {
	pair := subscriptionPair(customerID, subscriptionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.transitions[pair])
}
