package simulator_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestPartialScenario(t *testing.T) {
	t.Parallel()
	o, err := simulator.LoadScenario("../../examples/scenarios/partial.yaml")
	require.NoError(t, err)
	require.Positive(t, o.Partial.TopLevelErrorShare)
	require.Positive(t, o.Partial.FailedLineShare)
	require.Positive(t, o.Partial.ConvertedThenFailedShare)
	require.Positive(t, o.Partial.UnknownStatusShare)
	require.Equal(t, "Suspended", o.Partial.UnknownStatus)
	require.Positive(t, o.LicenseErrorShare)
	_, err = simulator.New(o)
	require.NoError(t, err)

	for _, tc := range []struct{ doc, want string }{
		{"partial:\n  top_level_error_share: 0.1\n  failed_lines: 0.2\n", "line 3"},
		{"partial:\n  unknown_status_share: 1.5\n", "Partial.UnknownStatusShare"},
		{"partial:\n  unknown_status: InProgress\n", "a status clients know"},
		{"partial:\n  unknown_status: Completed\n", "a status clients know"},
	} {
		_, err := simulator.ParseScenario([]byte(tc.doc))
		require.Error(t, err, tc.doc)
		require.Contains(t, err.Error(), tc.want, tc.doc)
	}
}

func partialOptions() simulator.Options {
	opts := simulator.DefaultOptions()
	opts.IneligibleShare, opts.FailShare = 0, 0
	opts.Partial = simulator.Partial{TopLevelErrorShare: 0.25, FailedLineShare: 0.35, ConvertedThenFailedShare: 0.5, UnknownStatusShare: 0.2}
	return opts
}

func TestPartialProductUpgrades(t *testing.T) {
	t.Parallel()
	opts := partialOptions()
	b := setup(t, opts)
	token := b.userToken(t)

	topLevel := eligibleCustomer(t, b.sim, func(o simulator.Outcome) bool { return o.Partial && o.ErrorCode != "" })
	failedLine := eligibleCustomer(t, b.sim, func(o simulator.Outcome) bool { return o.Partial && o.ErrorCode == "" })
	unknown := eligibleCustomer(t, b.sim, func(o simulator.Outcome) bool { return o.UnknownStatus != "" })
	ids := map[string]string{}
	for _, c := range []string{topLevel, failedLine, unknown} {
		ids[c] = b.create(t, token, c)
	}
	b.clock.Advance(opts.MaxDuration + time.Second)

	st := b.status(t, token, ids[topLevel], topLevel)
	require.Equal(t, "Completed", st.Status)
	require.NotNil(t, st.ErrorDetails, "a completed upgrade with a top-level errorDetails")
	require.Equal(t, b.sim.Predict(topLevel).ErrorCode, st.ErrorDetails.Code)
	require.NotEmpty(t, st.ErrorDetails.Message)
	for _, li := range st.LineItems {
		require.Equal(t, "Completed", li.Status)
		require.Nil(t, li.ErrorDetails, "no line item error")
	}

	st = b.status(t, token, ids[failedLine], failedLine)
	require.Equal(t, "Completed", st.Status)
	require.Nil(t, st.ErrorDetails)
	last := st.LineItems[len(st.LineItems)-1]
	require.Equal(t, "Failed", last.Status, "the last line item failed")
	require.NotNil(t, last.ErrorDetails)
	require.Equal(t, b.sim.Predict(failedLine).LineItems[len(st.LineItems)-1].ErrorCode, last.ErrorDetails.Code)

	st = b.status(t, token, ids[unknown], unknown)
	require.Equal(t, "Suspended", st.Status)
	for _, li := range st.LineItems {
		require.Equal(t, "InProgress", li.Status)
	}
	b.post(t, "/v1/productUpgrades", token, upgradeBody(unknown)).requireFault(t, http.StatusConflict, "900109")
	b.clock.Advance(10 * time.Minute)
	require.Equal(t, "Suspended", b.status(t, token, ids[unknown], unknown).Status, "forever")
}

func TestPartialTransitions(t *testing.T) {
	t.Parallel()
	opts := partialOptions()
	b := setup(t, opts)
	token := b.userToken(t)

	type pair struct{ c, s, item string }
	find := func(want func(simulator.TransitionOutcome) bool) pair {
		t.Helper()
		for range 10000 {
			c, s := uuid.NewString(), uuid.NewString()
			p := b.sim.PredictTransition(c, s)
			if !want(p) {
				continue
			}
			for _, tg := range p.Targets {
				for _, typ := range tg.EligibleTypes {
					if typ == "transition_with_license_transfer" {
						return pair{c, s, tg.CatalogItemID}
					}
				}
			}
		}
		t.Fatal("no pair with the wanted outcome")
		return pair{}
	}
	converted := find(func(p simulator.TransitionOutcome) bool { return p.ConvertedThenFails })
	unknown := find(func(p simulator.TransitionOutcome) bool { return p.UnknownStatus != "" })
	ops := map[pair]string{}
	for _, p := range []pair{converted, unknown} {
		body := map[string]any{"toCatalogItemId": p.item, "quantity": 1, "transitionType": "transition_with_license_transfer"}
		res := b.post(t, subPath(p.c, p.s, "transitions"), token, body)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var tr transitionWire
		require.NoError(t, json.Unmarshal(res.body, &tr))
		ops[p] = tr.OperationID
	}
	b.clock.Advance(opts.MaxDuration + time.Second)

	type event struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Errors []struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	}
	events := func(p pair) []event {
		res := b.get(t, subPath(p.c, p.s, "transitions?operationId="+ops[p]), token)
		require.Equal(t, http.StatusOK, res.status)
		var col collectionWire[struct {
			Events []event `json:"events"`
		}]
		require.NoError(t, json.Unmarshal(res.body, &col))
		require.Len(t, col.Items, 1)
		return col.Items[0].Events
	}
	ev := events(converted)
	var names []string
	for _, e := range ev {
		names = append(names, e.Name+"/"+e.Status)
	}
	require.Equal(t, []string{"Conversion/Started", "LicenseReassignment/Started", "Conversion/Completed", "LicenseReassignment/Failed"}, names)
	require.Len(t, ev[3].Errors, 2, "the failed event carries two errors")
	require.Equal(t, 12, ev[3].Errors[0].Code)

	ev = events(unknown)
	require.Equal(t, "Conversion", ev[len(ev)-1].Name)
	require.Equal(t, "Suspended", ev[len(ev)-1].Status)
	body := map[string]any{"toCatalogItemId": unknown.item, "quantity": 1, "transitionType": "transition_with_license_transfer"}
	b.post(t, subPath(unknown.c, unknown.s, "transitions"), token, body).requireFault(t, http.StatusConflict, "900278")
	require.Equal(t, 1, b.sim.TransitionCount(unknown.c, unknown.s))
}
