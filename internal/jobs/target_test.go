package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestCheckTargetSubscription(t *testing.T) {
	t.Parallel()
	const sub = "0af52192-4a2a-4364-d25b-c8ecab3a5697"
	item := func(subs ...partnercenter.TargetSubscriptionEligibilityDetail) partnercenter.TransitionEligibility {
		return partnercenter.TransitionEligibility{CatalogItemID: "CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV", SubscriptionEligibilities: subs}
	}
	other := partnercenter.TargetSubscriptionEligibilityDetail{IsEligible: true, SubscriptionID: "92301b7d-7598-4938-d6f2-d31e080e9da6", SubscriptionFriendlyName: "E3"}

	require.Nil(t, checkTargetSubscription(item(other, partnercenter.TargetSubscriptionEligibilityDetail{
		IsEligible: true, SubscriptionID: "0AF52192-4A2A-4364-D25B-C8ECAB3A5697"}), sub), "listed as eligible, ids compared case-insensitively")

	r := checkTargetSubscription(item(partnercenter.TargetSubscriptionEligibilityDetail{SubscriptionID: sub,
		Errors: []partnercenter.TargetSubscriptionError{{Code: partnercenter.TargetSubscriptionErrorSubscriptionInCancellationWindow, Description: "in its cancellation window"}}}), sub)
	require.Equal(t, &refusal{status: upgrade.StatusIneligible, code: partnercenter.TargetSubscriptionErrorSubscriptionInCancellationWindow.String(),
		message: "in its cancellation window", reason: "target subscription not eligible"}, r)

	r = checkTargetSubscription(item(partnercenter.TargetSubscriptionEligibilityDetail{SubscriptionID: sub}), sub)
	require.Equal(t, upgrade.StatusIneligible, r.status, "not eligible without an error still is not eligible")
	require.Equal(t, CodeNoTargets, r.code)

	r = checkTargetSubscription(item(other), sub)
	require.Equal(t, upgrade.StatusFailed, r.status)
	require.Equal(t, CodeTargetSubscriptionNotOffered, r.code)
	require.Contains(t, r.message, other.SubscriptionID+" E3 (eligible)", "the listed subscriptions are named")

	r = checkTargetSubscription(item(), sub)
	require.Equal(t, CodeTargetSubscriptionNotOffered, r.code)
	require.Contains(t, r.message, "it lists none")
}

func TestNarrowToSubscription(t *testing.T) {
	t.Parallel()
	const sub = "0af52192-4a2a-4364-d25b-c8ecab3a5697"
	a := partnercenter.TransitionEligibility{CatalogItemID: "A:1:1"}
	b := partnercenter.TransitionEligibility{CatalogItemID: "B:1:1", SubscriptionEligibilities: []partnercenter.TargetSubscriptionEligibilityDetail{{SubscriptionID: sub}}}
	items := []partnercenter.TransitionEligibility{a, b}

	require.Equal(t, []partnercenter.TransitionEligibility{b}, narrowToSubscription(items, "", sub), "only the item listing the subscription")
	require.Equal(t, items, narrowToSubscription(items, "A:1:1", sub), "a named catalog item is never second-guessed")
	require.Equal(t, items, narrowToSubscription(items, "", ""), "nothing to narrow by")
	require.Equal(t, items, narrowToSubscription(items, "", "92301b7d-7598-4938-d6f2-d31e080e9da6"), "no item lists it: all stay, to be refused by name")
}
