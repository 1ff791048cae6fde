package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestHistoryCommandShowsCallsMessagesAndLineItems(t *testing.T) {
	t.Parallel()
	ineligible, failing, succeeding := uuid.NewString(), uuid.NewString(), uuid.NewString()
	opts := simulator.DefaultOptions()
	opts.Ineligible, opts.Failing, opts.Succeeding = []string{ineligible}, []string{failing}, []string{succeeding}
	opts.MinDuration, opts.MaxDuration = 200*time.Millisecond, 500*time.Millisecond
	e := newE2E(t, opts, fastConfig)
	path := filepath.Join(t.TempDir(), "three.csv")
	require.NoError(t, os.WriteFile(path, []byte("customer_id\n"+ineligible+"\n"+strings.ToUpper(failing)+"\n"+succeeding+"\n"), 0o600))

	// Ids that are not GUIDs are refused plainly, before the database.
	out, err := e.run("history", "--batch", "h", "not-a-guid")
	require.Error(t, err)
	require.Contains(t, out, `CUSTOMER_ID: "not-a-guid" is not a GUID`)
	require.NotContains(t, out, "SQLSTATE")
	out, err = e.run("history", "--batch", "h", failing, "--subscription", "12345")
	require.Error(t, err)
	require.Contains(t, out, `--subscription: "12345" is not a GUID`)
	require.NotContains(t, out, "SQLSTATE")

	e.mustRun("import", "--batch", "h", path)
	e.serve()
	st := e.waitDone("h", 60*time.Second)
	require.Equal(t, 1, st.Counts["failed"], "%v", st.Counts)

	// JSON, keyed by customer: every call with its identifiers and MS-CV,
	// the failure's message and the attempt's line items.
	var h report.History
	out = e.mustRun("history", "--batch", "h", strings.ToUpper(failing), "--json")
	require.NoError(t, json.Unmarshal([]byte(out), &h), out)
	require.Equal(t, []string{failing}, keys(h.Items))
	it := h.Items[failing]
	require.Equal(t, "failed", it.Status)
	require.Len(t, it.Attempts, 1)
	a := it.Attempts[0]
	pred := e.sim.Predict(failing)
	ops := map[string]int{}
	for _, c := range a.Calls {
		ops[c.Operation]++
		require.NotEmpty(t, c.RequestID, "%+v", c)
		require.NotEmpty(t, c.CorrelationID, "%+v", c)
		require.NotEmpty(t, c.CV, "Partner Center's MS-CV is kept: %+v", c)
		require.NotEmpty(t, c.ServerRequestID, "%+v", c)
		require.Positive(t, c.HTTPStatus, "%+v", c)
		require.Positive(t, c.DurationSeconds, "%+v", c)
	}
	require.Equal(t, 1, ops["product_upgrade_eligibility"], "%v", ops)
	require.Equal(t, 1, ops["product_upgrade_create"], "%v", ops)
	require.Positive(t, ops["product_upgrade_status"], "%v", ops)
	last := a.StatusChanges[len(a.StatusChanges)-1]
	require.Equal(t, "failed", last.To)
	require.Equal(t, pred.ErrorCode, last.ErrorCode)
	require.Equal(t, pred.ErrorMessage, last.ErrorMessage)
	require.NotEmpty(t, a.UpgradeID)
	require.Len(t, a.LineItems, len(pred.LineItems))
	for i, li := range pred.LineItems {
		require.Equal(t, li.SourceID, a.LineItems[i].SourceProductID)
		require.Equal(t, li.Status, a.LineItems[i].Status)
		require.Equal(t, li.ErrorCode, a.LineItems[i].ErrorCode)
		require.Equal(t, li.ErrorMessage, a.LineItems[i].ErrorMessage)
	}

	// The text for people says the same.
	text := e.mustRun("history", "--batch", "h", failing)
	require.Contains(t, text, "customer "+failing+" (batch h, line 3): failed; error "+pred.ErrorCode+": "+pred.ErrorMessage)
	require.Contains(t, text, "attempt 0: partner center object "+a.UpgradeID)
	require.Contains(t, text, "product_upgrade_create http 202")
	require.Contains(t, text, "ms-cv "+a.Calls[0].CV)
	require.Contains(t, text, "ms-requestid "+a.Calls[0].RequestID)
	require.Contains(t, text, "line items:")
	require.Contains(t, text, pred.LineItems[0].SourceName)

	// An ineligible customer's history gives Partner Center's reason.
	h = report.History{}
	out = e.mustRun("history", "--batch", "h", ineligible, "--json")
	require.NoError(t, json.Unmarshal([]byte(out), &h), out)
	changes := h.Items[ineligible].Attempts[0].StatusChanges
	require.Equal(t, "ineligible", changes[len(changes)-1].To)
	require.Equal(t, ineligibleReason(e, ineligible), changes[len(changes)-1].ErrorMessage)
	require.Contains(t, e.mustRun("history", "--batch", "h", ineligible), ineligibleReason(e, ineligible))

	// A customer the batch does not hold.
	other := uuid.NewString()
	out, err = e.run("history", "--batch", "h", other)
	require.Error(t, err)
	require.Contains(t, out, `batch "h" has no item for customer `+other)
}

func ineligibleReason(e *e2e, customer string) string {
	r := e.sim.Predict(customer).Reason
	require.NotEmpty(e.t, r)
	return r
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
