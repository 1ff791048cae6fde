package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// transitionCase is one CSV row of the test and what the simulator says
// about its pair.
type transitionCase struct {
	name          string
	c, s          string
	catalogItem   string // to_catalog_item_id ("" lets the service choose)
	toSub         string
	promotion     string
	fromItem      string
	wantTarget    string // the catalog item the service must choose
	wantSubDetail simulator.TargetSubscription
}

func (tc transitionCase) line() string {
	return strings.Join([]string{tc.c, tc.s, tc.catalogItem, "transition_only", tc.toSub, tc.promotion, tc.fromItem}, ",")
}

// findTransitionCase searches the simulator's deterministic world for a
// pair for which pick returns a case.
func findTransitionCase(t *testing.T, sim *simulator.Simulator, seed string, pick func(c, s string, targets []simulator.TransitionTarget) (transitionCase, bool)) transitionCase {
	t.Helper()
	cs, ss := guids(4000, seed+"-c"), guids(4000, seed+"-s")
	for i := range cs {
		var eligible []simulator.TransitionTarget
		for _, tg := range sim.PredictTransition(cs[i], ss[i]).Targets {
			if len(tg.EligibleTypes) > 0 && tg.EligibleTypes[0] == "transition_only" {
				eligible = append(eligible, tg)
			}
		}
		if tc, ok := pick(cs[i], ss[i], eligible); ok {
			tc.c, tc.s = cs[i], ss[i]
			return tc
		}
	}
	t.Fatalf("no pair for case %s", seed)
	return transitionCase{}
}

// subscriptionOf returns the first target subscription of tg that is
// eligible (or not).
func subscriptionOf(tg simulator.TransitionTarget, eligible bool) (simulator.TargetSubscription, bool) {
	for _, sub := range tg.Subscriptions {
		if sub.Eligible == eligible {
			return sub, true
		}
	}
	return simulator.TargetSubscription{}, false
}

// transitionCases are the rows of the test: a transition into an eligible
// existing subscription with a promotion and the source's catalog item,
// one into a subscription Partner Center lists as not eligible, one into
// a subscription it does not list, and one where naming the subscription
// alone picks the catalog item among several eligible ones.
func transitionCases(t *testing.T, sim *simulator.Simulator) (good, bad, unlisted, narrowed transitionCase) {
	good = findTransitionCase(t, sim, "good", func(_, _ string, eligible []simulator.TransitionTarget) (transitionCase, bool) {
		for _, tg := range eligible {
			if sub, ok := subscriptionOf(tg, true); ok {
				return transitionCase{name: "good", catalogItem: tg.CatalogItemID, toSub: sub.SubscriptionID,
					promotion: "39NFJQT1Q5KL:0001:39NFJQT1Q5MD", fromItem: "CFQ7TTC0LCHC:0002:CFQ7TTC0K5QV",
					wantTarget: tg.CatalogItemID, wantSubDetail: sub}, true
			}
		}
		return transitionCase{}, false
	})
	bad = findTransitionCase(t, sim, "bad", func(_, _ string, eligible []simulator.TransitionTarget) (transitionCase, bool) {
		for _, tg := range eligible {
			if sub, ok := subscriptionOf(tg, false); ok {
				return transitionCase{name: "bad", catalogItem: tg.CatalogItemID, toSub: sub.SubscriptionID,
					promotion: "PROMO-1", wantTarget: tg.CatalogItemID, wantSubDetail: sub}, true
			}
		}
		return transitionCase{}, false
	})
	unlisted = findTransitionCase(t, sim, "unlisted", func(c, _ string, eligible []simulator.TransitionTarget) (transitionCase, bool) {
		if len(eligible) == 0 {
			return transitionCase{}, false
		}
		return transitionCase{name: "unlisted", catalogItem: eligible[0].CatalogItemID, toSub: guids(1, "unlisted-"+c)[0],
			wantTarget: eligible[0].CatalogItemID}, true
	})
	narrowed = findTransitionCase(t, sim, "narrowed", func(_, _ string, eligible []simulator.TransitionTarget) (transitionCase, bool) {
		if len(eligible) < 2 {
			return transitionCase{}, false
		}
		var hit *simulator.TransitionTarget
		var sub simulator.TargetSubscription
		for i := range eligible {
			if len(eligible[i].Subscriptions) > 0 {
				if hit != nil {
					return transitionCase{}, false // both list one: keep the case simple
				}
				hit = &eligible[i]
				sub = eligible[i].Subscriptions[0]
			}
		}
		if hit == nil || !sub.Eligible {
			return transitionCase{}, false
		}
		return transitionCase{name: "narrowed", toSub: sub.SubscriptionID, wantTarget: hit.CatalogItemID, wantSubDetail: sub}, true
	})
	return good, bad, unlisted, narrowed
}

// reasons returns the item's status changes as "to: reason", oldest
// first.
func (w *world) reasons(b store.Batch, customerID, subscriptionID string) []string {
	w.t.Helper()
	ctx := context.Background()
	ids, err := w.st.FindItems(ctx, b.ID, customerID, subscriptionID)
	require.NoError(w.t, err)
	require.Len(w.t, ids, 1)
	entries, err := w.st.ItemHistory(ctx, ids[0])
	require.NoError(w.t, err)
	var out []string
	for _, e := range entries {
		if e.To != "" {
			out = append(out, e.To+": "+e.Reason)
		}
	}
	return out
}

func TestTransitionTargetSubscriptionAndPromotion(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.FailShare = 0
	w := newWorld(t, opts, nil)
	good, bad, unlisted, narrowed := transitionCases(t, w.sim)
	cases := []transitionCase{good, bad, unlisted, narrowed}
	lines := []string{"customer_id,subscription_id,to_catalog_item_id,transition_type,to_subscription_id,promotion_id,from_catalog_item_id"}
	for _, tc := range cases {
		lines = append(lines, tc.line())
	}

	// A dry run shows Partner Center's answer about each target
	// subscription, and creates nothing.
	dry := w.importCSV("transition-targets-dry", importer.Options{DryRun: true}, lines...)
	w.waitStatus(dry, upgrade.BatchCompleted, 60*time.Second)
	got := byCustomer(w.rows(dry))
	for _, tc := range []transitionCase{good, narrowed} {
		row := got[tc.c+"/"+tc.s][0]
		require.Equal(t, upgrade.StatusEligible, row.Status, tc.name)
		require.Equal(t, tc.wantTarget, row.Target, tc.name)
		require.Contains(t, w.reasons(dry, tc.c, tc.s), "eligible: dry run: would transition to "+tc.wantTarget+
			" into subscription "+tc.toSub+", which Partner Center lists as an eligible target subscription", tc.name)
	}
	checkRefusals := func(b store.Batch) {
		t.Helper()
		got := byCustomer(w.rows(b))
		row := got[bad.c+"/"+bad.s][0]
		require.Equal(t, upgrade.StatusIneligible, row.Status, "a target subscription listed as not eligible")
		require.Equal(t, partnercenter.TargetSubscriptionErrorCode(bad.wantSubDetail.ErrorCode).String(), row.ErrorCode,
			"Partner Center's TargetSubscriptionErrorCode %d", bad.wantSubDetail.ErrorCode)
		require.Equal(t, bad.wantSubDetail.Description, row.ErrorMessage, "Partner Center's description")
		require.Contains(t, w.reasons(b, bad.c, bad.s), "ineligible: target subscription not eligible")

		row = got[unlisted.c+"/"+unlisted.s][0]
		require.Equal(t, upgrade.StatusFailed, row.Status, "a target subscription Partner Center does not list")
		require.Equal(t, jobs.CodeTargetSubscriptionNotOffered, row.ErrorCode)
		require.Contains(t, row.ErrorMessage, unlisted.toSub)
		require.Contains(t, row.ErrorMessage, unlisted.wantTarget)
	}
	checkRefusals(dry)
	for _, tc := range cases {
		require.Zero(t, w.sim.TransitionCount(tc.c, tc.s), "a dry run creates nothing (%s)", tc.name)
	}

	// The real run creates exactly the accepted ones, with the file's
	// promotion and source catalog item in the request Partner Center
	// received.
	b := w.importCSV("transition-targets", importer.Options{}, lines...)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)
	got = byCustomer(w.rows(b))
	for _, tc := range []transitionCase{good, narrowed} {
		row := got[tc.c+"/"+tc.s][0]
		require.Equal(t, upgrade.StatusCompleted, row.Status, tc.name)
		require.Equal(t, tc.wantTarget, row.Target, tc.name)
		reqs := w.sim.TransitionRequests(tc.c, tc.s)
		require.Len(t, reqs, 1, tc.name)
		require.Equal(t, row.UpgradeID, reqs[0].OperationID, tc.name)
		require.Equal(t, tc.wantTarget, reqs[0].ToCatalogItemID, tc.name)
		require.Equal(t, tc.toSub, reqs[0].ToSubscriptionID, tc.name)
		require.Equal(t, tc.promotion, reqs[0].PromotionID, tc.name)
		require.Equal(t, tc.fromItem, reqs[0].FromCatalogItemID, tc.name)
	}
	require.NotEmpty(t, good.promotion)
	require.NotEmpty(t, good.fromItem)
	checkRefusals(b)
	require.Zero(t, w.sim.TransitionCount(bad.c, bad.s), "nothing created into a subscription that is not eligible")
	require.Zero(t, w.sim.TransitionCount(unlisted.c, unlisted.s), "nothing created into a subscription that is not listed")
}
