package partnercenter

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTransitionsService_Create_promotionAndSource shows the optional
// promotionId and fromCatalogItemId on the wire exactly when they are set,
// and read back from the echoed transition.
func TestTransitionsService_Create_promotionAndSource(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "POST /v1/customers/{c}/subscriptions/{s}/transitions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"operationId":"5a2c58b4-1bd2-4c1c-8a3b-4bd1e0f7c7a9",
			"fromCatalogItemId":"CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X","fromSubscriptionId":"e487e8dc-421e-4275-cb42-3c1c8daccf70",
			"toCatalogItemId":"CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV","quantity":2,"transitionType":"transition_only",
			"promotionId":"39NFJQT1Q5KL:0001:39NFJQT1Q5MD",
			"events":[{"name":"Conversion","status":"Started","timestamp":"2021-01-08T18:01:14.7488618Z"}],
			"attributes":{"objectType":"Transition"}}`))
	})

	in := Transition{ToCatalogItemID: "CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV", Quantity: 2, TransitionType: TransitionTypeOnly,
		PromotionID: "39NFJQT1Q5KL:0001:39NFJQT1Q5MD", FromCatalogItemID: "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X"}
	got, _, err := client.Transitions.Create(t.Context(), Call{}, testCustomerID, "e487e8dc-421e-4275-cb42-3c1c8daccf70", in)
	require.NoError(t, err)
	require.JSONEq(t, `{"toCatalogItemId":"CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV","quantity":2,"transitionType":"transition_only",
		"promotionId":"39NFJQT1Q5KL:0001:39NFJQT1Q5MD","fromCatalogItemId":"CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X"}`, string(receive(t, reqs).Body))
	require.Equal(t, in.PromotionID, got.PromotionID)
	require.Equal(t, in.FromCatalogItemID, got.FromCatalogItemID)
	require.Equal(t, "5a2c58b4-1bd2-4c1c-8a3b-4bd1e0f7c7a9", got.OperationID)

	// Without them, neither key is sent: an empty promotionId is not "no
	// promotion" to every server.
	in.PromotionID, in.FromCatalogItemID = "", ""
	_, _, err = client.Transitions.Create(t.Context(), Call{}, testCustomerID, "e487e8dc-421e-4275-cb42-3c1c8daccf70", in)
	require.NoError(t, err)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(receive(t, reqs).Body, &sent))
	require.NotContains(t, sent, "promotionId")
	require.NotContains(t, sent, "fromCatalogItemId")
}
