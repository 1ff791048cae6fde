package ratelimit

import (
	"time"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
)

// DefaultLimits are Partner Center's limits as documented, and assumed where
// Partner Center publishes none (docs/decisions.md):
//
//   - subscription resources (subscription upgrades, transitions): 500
//     requests a minute per tenant, taken per partner and customer;
//   - product upgrades: throttled without published numbers; 300 a minute
//     per partner for each endpoint is assumed.
func DefaultLimits() []Limit {
	return []Limit{
		{Name: "product_upgrade_eligibility", Calls: 300, Per: time.Minute, Scope: ScopePartner,
			Operations: []string{partnercenter.OpProductUpgradeEligibility}},
		{Name: "product_upgrade_create", Calls: 300, Per: time.Minute, Scope: ScopePartner,
			Operations: []string{partnercenter.OpProductUpgradeCreate}},
		{Name: "product_upgrade_status", Calls: 300, Per: time.Minute, Scope: ScopePartner,
			Operations: []string{partnercenter.OpProductUpgradeStatus}},
		{Name: "subscriptions", Calls: 500, Per: time.Minute, Scope: ScopeCustomer,
			Operations: []string{partnercenter.OpSubscriptionUpgradeList, partnercenter.OpSubscriptionUpgradePerform,
				partnercenter.OpTransitionEligibility, partnercenter.OpTransitionCreate, partnercenter.OpTransitionList},
			Starts: []string{partnercenter.OpSubscriptionUpgradeList, partnercenter.OpTransitionEligibility}},
	}
}
