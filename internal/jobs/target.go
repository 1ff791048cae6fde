package jobs

import (
	"fmt"
	"strings"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Error codes of our own, for items that fail before Partner Center is
// asked to change anything. They are a contract shown in reports.
const (
	// CodeTargetAmbiguous: several targets are eligible and the file named
	// none.
	CodeTargetAmbiguous = "target_ambiguous"
	// CodeTargetNotOffered: the file names a target Partner Center does not
	// offer for the subscription.
	CodeTargetNotOffered = "target_not_offered"
	// CodeNoTargets: Partner Center offers no target at all.
	CodeNoTargets = "no_targets"
	// CodeTargetSubscriptionNotOffered: the file names an existing
	// subscription to transition into (to_subscription_id) that Partner
	// Center does not list as a target subscription of the chosen catalog
	// item.
	CodeTargetSubscriptionNotOffered = "target_subscription_not_offered"
)

// refusal says why no target can be chosen for an item: it ends ineligible
// (Partner Center says no) or failed (the file's choice cannot be honoured).
type refusal struct {
	status  upgrade.Status
	code    string
	message string
	reason  string // for the item's history; "" means "no ... target"
}

// chooseUpgrade picks the subscription upgrade named by offerID (or, when
// offerID is empty, the single eligible one) from Partner Center's list.
func chooseUpgrade(paths []partnercenter.Upgrade, offerID, subscriptionID string) (partnercenter.Upgrade, *refusal) {
	describe := func() string {
		var parts []string
		for _, p := range paths {
			state := "eligible"
			if !p.IsEligible {
				state = "not eligible"
				for i, e := range p.UpgradeErrors {
					if i == 0 {
						state += ": "
					} else {
						state += ", "
					}
					state += e.CodeText()
				}
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", p.TargetOffer.ID, p.TargetOffer.Name, state))
		}
		return strings.Join(parts, "; ")
	}
	ineligible := func(p partnercenter.Upgrade) *refusal {
		r := &refusal{status: upgrade.StatusIneligible, code: CodeNoTargets,
			message: fmt.Sprintf("the upgrade to %s is not eligible", p.TargetOffer.ID)}
		if len(p.UpgradeErrors) > 0 {
			// The first error's code explains the item; every error of the
			// path is in the message.
			r.code = p.UpgradeErrors[0].CodeText()
			var texts []string
			for _, e := range p.UpgradeErrors {
				texts = append(texts, e.CodeText()+": "+errorText(e.Description, e.AdditionalDetails, ""))
			}
			r.message = strings.Join(texts, " | ")
			if len(p.UpgradeErrors) == 1 {
				r.message = errorText(p.UpgradeErrors[0].Description, p.UpgradeErrors[0].AdditionalDetails, "")
			}
		}
		return r
	}
	if offerID != "" {
		for _, p := range paths {
			if strings.EqualFold(p.TargetOffer.ID, offerID) {
				if !p.IsEligible {
					return p, ineligible(p)
				}
				return p, nil
			}
		}
		return partnercenter.Upgrade{}, &refusal{status: upgrade.StatusFailed, code: CodeTargetNotOffered,
			message: fmt.Sprintf("offer %s is not an upgrade path of subscription %s; its paths are: %s", offerID, subscriptionID, describe())}
	}
	var eligible []partnercenter.Upgrade
	for _, p := range paths {
		if p.IsEligible {
			eligible = append(eligible, p)
		}
	}
	switch {
	case len(eligible) == 1:
		return eligible[0], nil
	case len(eligible) > 1:
		return partnercenter.Upgrade{}, &refusal{status: upgrade.StatusFailed, code: CodeTargetAmbiguous,
			message: fmt.Sprintf("%d eligible upgrades, name one in target_offer_id: %s", len(eligible), describe())}
	case len(paths) > 0:
		return partnercenter.Upgrade{}, ineligible(paths[0])
	default:
		return partnercenter.Upgrade{}, &refusal{status: upgrade.StatusIneligible, code: CodeNoTargets,
			message: fmt.Sprintf("subscription %s has no upgrade paths", subscriptionID)}
	}
}

// chooseTransition picks the catalog item named by catalogItemID (or, when
// empty, the single one eligible for transitionType) from Partner Center's
// eligibilities.
func chooseTransition(items []partnercenter.TransitionEligibility, catalogItemID, transitionType, subscriptionID string) (partnercenter.TransitionEligibility, *refusal) {
	reasons := func(e partnercenter.TransitionEligibility) (string, string) {
		for _, d := range e.Eligibilities {
			if strings.EqualFold(d.TransitionType, transitionType) && len(d.Errors) > 0 {
				if len(d.Errors) == 1 {
					return d.Errors[0].CodeText(), d.Errors[0].Description
				}
				texts := make([]string, 0, len(d.Errors))
				for _, te := range d.Errors {
					texts = append(texts, te.CodeText()+": "+te.Description)
				}
				return d.Errors[0].CodeText(), strings.Join(texts, " | ")
			}
		}
		return CodeNoTargets, fmt.Sprintf("%s is not eligible for %s", e.CatalogItemID, transitionType)
	}
	describe := func() string {
		var parts []string
		for _, e := range items {
			state := "eligible"
			if !e.Eligible(transitionType) {
				code, _ := reasons(e)
				state = "not eligible: " + code
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s)", e.CatalogItemID, e.Title, state))
		}
		return strings.Join(parts, "; ")
	}
	if catalogItemID != "" {
		for _, e := range items {
			if strings.EqualFold(e.CatalogItemID, catalogItemID) {
				if !e.Eligible(transitionType) {
					code, msg := reasons(e)
					return e, &refusal{status: upgrade.StatusIneligible, code: code, message: msg}
				}
				return e, nil
			}
		}
		return partnercenter.TransitionEligibility{}, &refusal{status: upgrade.StatusFailed, code: CodeTargetNotOffered,
			message: fmt.Sprintf("catalog item %s is not a transition target of subscription %s; its targets are: %s", catalogItemID, subscriptionID, describe())}
	}
	var eligible []partnercenter.TransitionEligibility
	for _, e := range items {
		if e.Eligible(transitionType) {
			eligible = append(eligible, e)
		}
	}
	switch {
	case len(eligible) == 1:
		return eligible[0], nil
	case len(eligible) > 1:
		return partnercenter.TransitionEligibility{}, &refusal{status: upgrade.StatusFailed, code: CodeTargetAmbiguous,
			message: fmt.Sprintf("%d eligible %s targets, name one in to_catalog_item_id: %s", len(eligible), transitionType, describe())}
	case len(items) > 0:
		code, msg := reasons(items[0])
		return partnercenter.TransitionEligibility{}, &refusal{status: upgrade.StatusIneligible, code: code, message: msg}
	default:
		return partnercenter.TransitionEligibility{}, &refusal{status: upgrade.StatusIneligible, code: CodeNoTargets,
			message: fmt.Sprintf("subscription %s has no transition targets", subscriptionID)}
	}
}

// narrowToSubscription keeps, when the file names a subscription to
// transition into (toSubscriptionID) but no catalog item, only the
// eligibilities that list that subscription as a target: a transition into
// an existing subscription must be to its catalog item. When none lists it,
// items is returned as is (checkTargetSubscription then refuses it).
func narrowToSubscription(items []partnercenter.TransitionEligibility, catalogItemID, toSubscriptionID string) []partnercenter.TransitionEligibility {
	if catalogItemID != "" || toSubscriptionID == "" {
		return items
	}
	var out []partnercenter.TransitionEligibility
	for _, e := range items {
		for _, sub := range e.SubscriptionEligibilities {
			if strings.EqualFold(sub.SubscriptionID, toSubscriptionID) {
				out = append(out, e)
				break
			}
		}
	}
	if len(out) == 0 {
		return items
	}
	return out
}

// checkTargetSubscription checks the existing subscription the file names
// (toSubscriptionID) against the target subscriptions Partner Center lists
// for the chosen catalog item: nil when it is listed as eligible; the item
// ends ineligible, with Partner Center's first error, when it is listed as
// not eligible, and failed when it is not listed at all.
func checkTargetSubscription(target partnercenter.TransitionEligibility, toSubscriptionID string) *refusal {
	var listed []string
	for _, sub := range target.SubscriptionEligibilities {
		if !strings.EqualFold(sub.SubscriptionID, toSubscriptionID) {
			state := "eligible"
			if !sub.IsEligible {
				state = "not eligible"
			}
			listed = append(listed, fmt.Sprintf("%s %s (%s)", sub.SubscriptionID, sub.SubscriptionFriendlyName, state))
			continue
		}
		if sub.IsEligible {
			return nil
		}
		r := &refusal{status: upgrade.StatusIneligible, code: CodeNoTargets,
			message: fmt.Sprintf("subscription %s is not an eligible target subscription for %s", toSubscriptionID, target.CatalogItemID),
			reason:  "target subscription not eligible"}
		if len(sub.Errors) > 0 {
			r.code, r.message = sub.Errors[0].Code.String(), sub.Errors[0].Description
		}
		return r
	}
	msg := fmt.Sprintf("subscription %s is not a target subscription Partner Center lists for %s", toSubscriptionID, target.CatalogItemID)
	if len(listed) > 0 {
		msg += "; it lists: " + strings.Join(listed, "; ")
	} else {
		msg += "; it lists none"
	}
	return &refusal{status: upgrade.StatusFailed, code: CodeTargetSubscriptionNotOffered, message: msg, reason: "target subscription not offered"}
}
