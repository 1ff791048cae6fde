package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

const (
	customer1 = "c1958bc7-3284-4952-a257-de594ee64743"
	customer2 = "0b1c2d3e-3284-4952-a257-de594ee64743"
)

func TestAPIHistoryShowsCallsMessagesAndResultsPerAttemptKeyedByCustomer(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()
	b, err := st.BatchByName(ctx, "b1")
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	first, second := ids[0], ids[1]
	call := func(item int64, gen int, op string, status int, code, msg string) store.APICall {
		return store.APICall{
			BatchID: b.ID, ItemID: item, Generation: gen, Worker: "w1", Operation: op, HTTPStatus: status,
			RequestID: op + "-request", CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c",
			ServerRequestID: op + "-server", CV: op + "-cv.1", RequestCV: op + "-cv.0",
			Duration: 1500 * time.Millisecond, ErrorCode: code, ErrorMessage: msg,
		}
	}

	// Attempt 0 of the first customer: created, then failed with a failed
	// line item.
	require.NoError(t, st.RecordAPICall(ctx, call(first, 0, "product_upgrade_create", 202, "", "")))
	require.NoError(t, st.AdoptUpgrade(ctx, first, 0, "upgrade-gen-0"))
	require.NoError(t, st.TransitionItem(ctx, first, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: "created upgrade", Worker: "w1"}))
	require.NoError(t, st.RecordAPICall(ctx, call(first, 0, "product_upgrade_status", 200, "", "")))
	require.NoError(t, st.FinishUpgrade(ctx, first, 0, "Failed", []store.LineItem{
		{SourceProductID: "src-0", SourceProductName: "Legacy", TargetProductID: "tgt-0", TargetProductName: "Azure plan", Status: "Failed", ErrorCode: "60001", ErrorMessage: "line failed on attempt 0"},
	}))
	require.NoError(t, st.TransitionItem(ctx, first, store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusFailed,
		Reason: "upgrade Failed", ErrorCode: "60001", ErrorMessage: "the upgrade failed", Worker: "w1"}))
	// Attempt 1: an operator retry, a 503 without answer body, then done.
	_, err = st.RetryFailed(ctx, b.ID, "", "retried by operator", "alice")
	require.NoError(t, err)
	require.NoError(t, st.RecordAPICall(ctx, call(first, 1, "product_upgrade_create", 503, "http_503", "Service Unavailable")))
	require.NoError(t, st.AdoptUpgrade(ctx, first, 1, "upgrade-gen-1"))
	require.NoError(t, st.TransitionItem(ctx, first, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: "adopted existing upgrade", Worker: "w2"}))
	require.NoError(t, st.FinishUpgrade(ctx, first, 1, "Completed", []store.LineItem{
		{SourceProductID: "src-0", TargetProductID: "tgt-0", Status: "Completed"},
	}))
	require.NoError(t, st.TransitionItem(ctx, first, store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted, Reason: "upgrade Completed", Worker: "w2"}))
	// The second customer is not eligible, with Partner Center's reason.
	require.NoError(t, st.RecordAPICall(ctx, call(second, 0, "product_upgrade_eligibility", 200, "", "")))
	require.NoError(t, st.TransitionItem(ctx, second, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusIneligible,
		Reason: "not eligible", ErrorMessage: "The customer has no legacy Azure subscription.", Worker: "w1"}))

	// Any letter case names the customer.
	r := send(t, "GET", srv.URL+"/api/v1/batches/b1/items/C1958BC7-3284-4952-A257-DE594EE64743/history", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	var h report.History
	require.NoError(t, json.Unmarshal([]byte(r.body), &h), r.body)
	require.Equal(t, "b1", h.Batch)
	require.Equal(t, "product_upgrade", h.Operation)
	require.Len(t, h.Items, 1)
	it, ok := h.Items[customer1]
	require.True(t, ok, "keyed by customer id: %s", r.body)
	require.NotContains(t, r.body, `"id"`, "no internal ids")
	require.Equal(t, customer1, it.CustomerID)
	require.Equal(t, "completed", it.Status)
	require.Equal(t, 1, it.Generation)
	require.Len(t, it.Attempts, 2, "both attempts")

	a0, a1 := it.Attempts[0], it.Attempts[1]
	require.Equal(t, "upgrade-gen-0", a0.UpgradeID)
	require.Equal(t, "Failed", a0.UpgradeStatus)
	require.Len(t, a0.Calls, 2)
	c := a0.Calls[0]
	require.Equal(t, "product_upgrade_create", c.Operation)
	require.Equal(t, 202, c.HTTPStatus)
	require.Equal(t, "product_upgrade_create-request", c.RequestID)
	require.Equal(t, "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c", c.CorrelationID)
	require.Equal(t, "product_upgrade_create-cv.1", c.CV)
	require.Equal(t, "product_upgrade_create-cv.0", c.CVSent)
	require.Equal(t, "product_upgrade_create-server", c.ServerRequestID)
	require.InDelta(t, 1.5, c.DurationSeconds, 1e-9)
	require.Equal(t, "w1", c.Worker)
	require.Len(t, a0.StatusChanges, 2)
	require.Equal(t, "in_progress", a0.StatusChanges[1].From)
	require.Equal(t, "failed", a0.StatusChanges[1].To)
	require.Equal(t, "60001", a0.StatusChanges[1].ErrorCode)
	require.Equal(t, "the upgrade failed", a0.StatusChanges[1].ErrorMessage)
	require.Len(t, a0.LineItems, 1)
	require.Equal(t, "line failed on attempt 0", a0.LineItems[0].ErrorMessage)
	require.Equal(t, "Legacy", a0.LineItems[0].SourceProductName)

	require.Equal(t, "upgrade-gen-1", a1.UpgradeID)
	require.Equal(t, "failed", a1.StatusChanges[0].From, "the retry opens the new attempt")
	require.Equal(t, "pending", a1.StatusChanges[0].To)
	require.Equal(t, "alice", a1.StatusChanges[0].Worker)
	require.Len(t, a1.Calls, 1)
	require.Equal(t, 503, a1.Calls[0].HTTPStatus)
	require.Equal(t, "http_503", a1.Calls[0].ErrorCode)
	require.Equal(t, "Service Unavailable", a1.Calls[0].ErrorMessage)
	require.Len(t, a1.LineItems, 1)
	require.Equal(t, "Completed", a1.LineItems[0].Status)

	// The ineligible customer's reason.
	r = send(t, "GET", srv.URL+"/api/v1/batches/b1/items/"+customer2+"/history", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.NoError(t, json.Unmarshal([]byte(r.body), &h), r.body)
	sc := h.Items[customer2].Attempts[0].StatusChanges
	require.Len(t, sc, 1)
	require.Equal(t, "ineligible", sc[0].To)
	require.Equal(t, "The customer has no legacy Azure subscription.", sc[0].ErrorMessage)
}

func TestAPIHistoryOfSubscriptionWorkIsKeyedByCustomerAndSubscription(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()
	r := send(t, "POST", srv.URL+"/api/v1/batches?name=tr", token, "text/csv", goodTransitions)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	b, err := st.BatchByName(ctx, "tr")
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, st.ReplaceDetails(ctx, ids[0], 0, []store.Detail{
		{Kind: store.DetailEvent, Name: "ConvertSubscription", Status: "Completed", OccurredAt: &at},
		{Kind: store.DetailEvent, Name: "TransferLicenses", Status: "Failed", Code: "800036", Message: "licenses could not be moved"},
	}))

	const subA, subB = "a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70", "b2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70"
	r = send(t, "GET", srv.URL+"/api/v1/batches/tr/items/"+customer1+"/history", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	var h report.History
	require.NoError(t, json.Unmarshal([]byte(r.body), &h), r.body)
	require.Len(t, h.Items, 2, "every subscription of the customer")
	require.Contains(t, h.Items, customer1+"/"+subA)
	require.Contains(t, h.Items, customer1+"/"+subB)
	d := h.Items[customer1+"/"+subA].Attempts[0].Details
	require.Len(t, d, 2)
	require.Equal(t, "TransferLicenses", d[1].Name)
	require.Equal(t, "800036", d[1].ErrorCode)
	require.Equal(t, "licenses could not be moved", d[1].ErrorMessage)
	require.Empty(t, h.Items[customer1+"/"+subB].Attempts[0].Details)

	r = send(t, "GET", srv.URL+"/api/v1/batches/tr/items/"+customer1+"/history?subscription_id="+subB, token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	h = report.History{}
	require.NoError(t, json.Unmarshal([]byte(r.body), &h), r.body)
	require.Len(t, h.Items, 1)
	require.Equal(t, subB, h.Items[customer1+"/"+subB].SubscriptionID)
}

func TestAPIHistoryRefusesIdsThatAreNotGUIDs(t *testing.T) {
	t.Parallel()
	srv, _, _ := setup(t)
	for _, tc := range []struct {
		path string
		code int
		says string
	}{
		{"/api/v1/batches/b1/items/not-a-guid/history", http.StatusBadRequest, `customer_id: \"not-a-guid\" is not a GUID`},
		{"/api/v1/batches/b1/items/" + customer1 + "/history?subscription_id=1234", http.StatusBadRequest, `subscription_id: \"1234\" is not a GUID`},
		{"/api/v1/batches/b1/items/'%3B%20drop%20table%20batches%3B--/history", http.StatusBadRequest, "customer_id:"},
		{"/api/v1/batches/b1/items/6a1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c/history", http.StatusNotFound, `batch \"b1\" has no item for customer 6a1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c`},
		{"/api/v1/batches/nope/items/" + customer1 + "/history", http.StatusNotFound, "not found"},
	} {
		r := send(t, "GET", srv.URL+tc.path, token, "", "")
		require.Equal(t, tc.code, r.code, "%s: %s", tc.path, r.body)
		require.Contains(t, r.body, tc.says, tc.path)
		require.NotContains(t, r.body, "SQLSTATE", tc.path)
	}
	r := send(t, "GET", srv.URL+"/api/v1/batches/b1/items/"+customer1+"/history", "", "", "")
	require.Equal(t, http.StatusUnauthorized, r.code, r.body)
	require.NotContains(t, r.body, customer1)
}
