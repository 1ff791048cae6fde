package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// settleItem moves a pending item to to (through in_progress), with code;
// gaveUp marks a failure the service gave up on.
func settleItem(t *testing.T, st *store.Store, id int64, to upgrade.Status, code string, gaveUp bool) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
	require.NoError(t, st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusInProgress, To: to, ErrorCode: code, GaveUp: gaveUp}))
}

// The automatic halt counts only outcomes Partner Center decided, and its
// reason names the codes it counted.
func TestHaltCountsOnlyPartnerCenterFailuresAndNamesTheirCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	b, ids := newBatch(t, st, "halt", 11)
	policy := store.HaltPolicy{FailureRate: 0.5, Window: 15 * time.Minute, MinItems: 4}

	// Six failures the service gave up on (an outage, a job that kept
	// vanishing) and two completed items: 6 of 8 would be 75%.
	for i, code := range []string{"transport", "http_503", "token_temporarily_unavailable", "http_429", "internal_error", "max_attempts"} {
		settleItem(t, st, ids[i], upgrade.StatusFailed, code, true)
	}
	settleItem(t, st, ids[6], upgrade.StatusCompleted, "", false)
	settleItem(t, st, ids[7], upgrade.StatusCompleted, "", false)
	reason, err := st.HaltIfFailing(ctx, b.ID, policy)
	require.NoError(t, err)
	require.Empty(t, reason, "give-ups are not failures Partner Center decided")
	cur, err := st.BatchByName(ctx, b.Name)
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchRunning, cur.Status)

	// Three failures Partner Center reported: 3 of 5 decided outcomes.
	settleItem(t, st, ids[8], upgrade.StatusFailed, "800012", false)
	reason, err = st.HaltIfFailing(ctx, b.ID, policy)
	require.NoError(t, err)
	require.Empty(t, reason, "1 of 3 decided outcomes is below min_items")
	settleItem(t, st, ids[9], upgrade.StatusFailed, "900120", false)
	settleItem(t, st, ids[10], upgrade.StatusFailed, "800012", false)
	reason, err = st.HaltIfFailing(ctx, b.ID, policy)
	require.NoError(t, err)
	want := "halted: 3 of the last 5 settled items failed within 15m0s (threshold 50%): 800012 ×2, 900120 ×1; fix the cause, then resume"
	require.Equal(t, want, reason)
	cur, err = st.BatchByName(ctx, b.Name)
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchHalted, cur.Status)
	require.Equal(t, want, cur.StatusReason)
}

// Past five codes, the rest are summed up; a failure without a code is
// named as such.
func TestHaltReasonSumsUpRareCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	b, ids := newBatch(t, st, "many-codes", 9)
	for i, code := range []string{"c1", "c2", "c1", "c3", "c4", "c5", "c6", "", "c7"} {
		settleItem(t, st, ids[i], upgrade.StatusFailed, code, false)
	}
	reason, err := st.HaltIfFailing(ctx, b.ID, store.HaltPolicy{FailureRate: 0.5, Window: time.Hour, MinItems: 5})
	require.NoError(t, err)
	require.Equal(t, "halted: 9 of the last 9 settled items failed within 1h0m0s (threshold 50%): "+
		"c1 ×2, c2 ×1, c3 ×1, c4 ×1, c5 ×1, other codes ×3; fix the cause, then resume", reason)
}
