package upgrade

import (
	"fmt"
	"strings"
)

// Operation is the kind of Partner Center work a batch does. The values are
// stored and shown to operators: never rename.
type Operation string

// Operations.
const (
	// ProductUpgrade moves a customer's legacy Azure subscriptions to the
	// Azure plan: eligibility, create, poll status, line items.
	ProductUpgrade Operation = "product_upgrade"
	// SubscriptionUpgrade upgrades a license-based subscription to another
	// offer: list eligible upgrades, pick the target, perform.
	SubscriptionUpgrade Operation = "subscription_upgrade"
	// Transition transitions a subscription to another catalog item:
	// eligibilities, create, follow its events to a final state.
	Transition Operation = "transition"
)

// Operations returns every operation.
func Operations() []Operation {
	return []Operation{ProductUpgrade, SubscriptionUpgrade, Transition}
}

// ParseOperation returns the operation named s (case-insensitive; "-" and
// "_" are interchangeable).
func ParseOperation(s string) (Operation, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for _, op := range Operations() {
		if string(op) == norm {
			return op, nil
		}
	}
	return "", fmt.Errorf("unknown operation %q: expected one of %s, %s, %s", s, ProductUpgrade, SubscriptionUpgrade, Transition)
}

// Options are an item's operation-specific inputs from its CSV row. Empty
// values mean "Partner Center's default" or "the single eligible choice".
type Options struct {
	// UpgradeType is "upgrade_only" or "upgrade_with_license_transfer"
	// (subscription upgrades).
	UpgradeType string `json:"upgrade_type,omitempty"`
	// TransitionType is "transition_only" or
	// "transition_with_license_transfer" (transitions; default
	// transition_only).
	TransitionType string `json:"transition_type,omitempty"`
	// Quantity of licenses; 0 keeps the source's (transitions).
	Quantity int `json:"quantity,omitempty"`
	// ToSubscriptionID transitions into an existing subscription.
	ToSubscriptionID string `json:"to_subscription_id,omitempty"`
	// TermDuration (e.g. P1Y) and BillingCycle (e.g. monthly) of the target
	// (transitions).
	TermDuration string `json:"term_duration,omitempty"`
	BillingCycle string `json:"billing_cycle,omitempty"`
	// PromotionID is the promotion to apply to the target (transitions).
	PromotionID string `json:"promotion_id,omitempty"`
	// FromCatalogItemID is the source subscription's catalog item
	// ("product:sku:availability"), sent as Partner Center's
	// fromCatalogItemId (transitions).
	FromCatalogItemID string `json:"from_catalog_item_id,omitempty"`
}
