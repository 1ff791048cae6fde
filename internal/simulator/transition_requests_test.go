package simulator_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// targetWithSubscriptions finds a pair whose transition target (eligible
// for transition_only) lists an existing subscription that is eligible
// (want true) or not.
func targetWithSubscriptions(t *testing.T, sim *simulator.Simulator, want bool) (string, string, simulator.TransitionTarget, simulator.TargetSubscription) {
	t.Helper()
	for range 5000 {
		c, s := uuid.NewString(), uuid.NewString()
		for _, tg := range sim.PredictTransition(c, s).Targets {
			if len(tg.EligibleTypes) == 0 || tg.EligibleTypes[0] != "transition_only" {
				continue
			}
			for _, sub := range tg.Subscriptions {
				if sub.Eligible == want {
					return c, s, tg, sub
				}
			}
		}
	}
	t.Fatalf("no pair with a target subscription eligible=%v", want)
	return "", "", simulator.TransitionTarget{}, simulator.TargetSubscription{}
}

func TestTransitionIntoAnExistingSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	token := b.appToken(t)

	// The eligibility lists the target subscriptions the prediction names,
	// in the documented shape.
	c, s, tg, bad := targetWithSubscriptions(t, b.sim, false)
	res := b.get(t, subPath(c, s, "transitionEligibilities?eligibilityType=immediate"), token)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var col collectionWire[struct {
		CatalogItemID             string `json:"catalogItemId"`
		SubscriptionEligibilities []struct {
			IsEligible               bool   `json:"isEligible"`
			SubscriptionID           string `json:"subscriptionId"`
			SubscriptionFriendlyName string `json:"subscriptionFriendlyName"`
			SubscriptionTermDuration string `json:"subscriptionTermDuration"`
			SubscriptionBillingCycle string `json:"subscriptionBillingCycle"`
			Errors                   []struct {
				Code        json.RawMessage `json:"code"`
				Description string          `json:"description"`
			} `json:"errors"`
		} `json:"subscriptionEligibilities"`
	}]
	require.NoError(t, json.Unmarshal(res.body, &col))
	found := false
	for _, it := range col.Items {
		for _, sub := range it.SubscriptionEligibilities {
			if it.CatalogItemID != tg.CatalogItemID || sub.SubscriptionID != bad.SubscriptionID {
				continue
			}
			found = true
			require.False(t, sub.IsEligible)
			require.NotEmpty(t, sub.SubscriptionFriendlyName)
			require.NotEmpty(t, sub.SubscriptionTermDuration)
			require.Len(t, sub.Errors, 1)
			require.Equal(t, "3", string(sub.Errors[0].Code), "TargetSubscriptionErrorCode is a number on the wire")
			require.Equal(t, bad.Description, sub.Errors[0].Description)
			require.Equal(t, 3, bad.ErrorCode)
		}
	}
	require.True(t, found, "the predicted target subscription is listed: %s", res.body)

	// A target subscription listed as not eligible, or not listed at all,
	// is refused and creates nothing.
	body := map[string]any{"toCatalogItemId": tg.CatalogItemID, "quantity": 2, "transitionType": "transition_only",
		"toSubscriptionId": bad.SubscriptionID}
	b.post(t, subPath(c, s, "transitions"), token, body).requireFault(t, http.StatusBadRequest, "900267")
	body["toSubscriptionId"] = uuid.NewString()
	b.post(t, subPath(c, s, "transitions"), token, body).requireFault(t, http.StatusBadRequest, "900260")
	require.Zero(t, b.sim.TransitionCount(c, s))
	require.Empty(t, b.sim.TransitionRequests(c, s))

	// An eligible one is accepted; the promotion and the source catalog
	// item are echoed and kept as received.
	c, s, tg, good := targetWithSubscriptions(t, b.sim, true)
	body = map[string]any{"toCatalogItemId": tg.CatalogItemID, "quantity": 2, "transitionType": "transition_only",
		"toSubscriptionId": good.SubscriptionID, "promotionId": "39NFJQT1Q5KL:0001:39NFJQT1Q5MD",
		"fromCatalogItemId": "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X"}
	res = b.post(t, subPath(c, s, "transitions"), token, body)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var echo struct {
		OperationID       string `json:"operationId"`
		PromotionID       string `json:"promotionId"`
		FromCatalogItemID string `json:"fromCatalogItemId"`
		ToSubscriptionID  string `json:"toSubscriptionId"`
	}
	require.NoError(t, json.Unmarshal(res.body, &echo))
	require.Equal(t, "39NFJQT1Q5KL:0001:39NFJQT1Q5MD", echo.PromotionID)
	require.Equal(t, "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X", echo.FromCatalogItemID)
	require.Equal(t, good.SubscriptionID, echo.ToSubscriptionID)
	require.Equal(t, []simulator.TransitionRequest{{
		OperationID: echo.OperationID, FromCatalogItemID: "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X", FromSubscriptionID: s,
		ToCatalogItemID: tg.CatalogItemID, ToSubscriptionID: good.SubscriptionID, Quantity: 2,
		TransitionType: "transition_only", PromotionID: "39NFJQT1Q5KL:0001:39NFJQT1Q5MD",
	}}, b.sim.TransitionRequests(c, s))
}
