package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// newBatch writes a product-upgrade batch of n items and returns it with
// the items' ids.
func newBatch(t *testing.T, st *store.Store, name string, n int) (store.Batch, []int64) {
	t.Helper()
	ctx := context.Background()
	items := make([]store.NewItem, n)
	for i := range items {
		items[i] = store.NewItem{LineNumber: i + 2, CustomerID: fmt.Sprintf("%08d-0000-4000-8000-%012d", i+1, len(name)), ProductFamily: "Azure"}
	}
	var b store.Batch
	var ids []int64
	require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		var err error
		b, err = st.CreateBatch(ctx, store.NewBatch{Name: name, Operation: upgrade.ProductUpgrade, CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c"}, store.Items(items))
		if err != nil {
			return err
		}
		ids, err = st.ItemIDs(ctx, b.ID)
		return err
	}))
	return b, ids
}

// An item whose start job keeps vanishing is re-queued max_requeues times
// and then failed with internal_error, as given up; a retry starts a new
// generation whose count begins at zero.
func TestPoisonedItemFailsAfterMaxRequeues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	b, ids := newBatch(t, st, "poison", 2)
	const kind, maxRequeues = "create_upgrade", 2

	// dispatch queues the first item (no River job is ever inserted here,
	// so its job has vanished as soon as it is queued).
	dispatch := func() {
		t.Helper()
		batches, err := st.StartableBatches(ctx)
		require.NoError(t, err)
		require.Len(t, batches, 1)
		require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
			got, err := st.TakeForDispatch(ctx, &batches[0], 1)
			require.Equal(t, ids[:1], got)
			return err
		}))
	}
	// reconcile does what the reconcile job does for pending items.
	reconcile := func() []store.Poisoned {
		t.Helper()
		poisoned, err := st.FailPoisoned(ctx, upgrade.ProductUpgrade, upgrade.StatusPending, kind, 0, maxRequeues, "test", 100)
		require.NoError(t, err)
		require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
			requeued, err := st.UnqueueOrphans(ctx, upgrade.ProductUpgrade, kind, 0, 100)
			if err != nil {
				return err
			}
			return st.CountRequeues(ctx, requeued, kind, maxRequeues, "test")
		}))
		return poisoned
	}
	requeues := func() (n, generation int) {
		t.Helper()
		require.NoError(t, pool.QueryRow(ctx, `select requeues, requeues_generation from batch_items where id = $1`, ids[0]).Scan(&n, &generation))
		return n, generation
	}

	for round := 1; round <= maxRequeues; round++ {
		dispatch()
		require.Empty(t, reconcile(), "round %d: re-queued, not failed", round)
		n, _ := requeues()
		require.Equal(t, round, n)
		it, err := st.Item(ctx, ids[0])
		require.NoError(t, err)
		require.Equal(t, upgrade.StatusPending, it.Status)
	}
	dispatch()
	poisoned := reconcile()
	require.Len(t, poisoned, 1)
	require.Equal(t, ids[0], poisoned[0].ID)
	require.Equal(t, b.Name, poisoned[0].BatchName)

	it, err := st.Item(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, upgrade.StatusFailed, it.Status)
	require.Equal(t, store.CodeInternalError, it.ErrorCode)
	require.Equal(t, "gave up: the item's create_upgrade job ended without settling it 3 times (re-queued 2 times; reconcile.max_requeues is 2); "+
		"its last job is no longer in River's table, so no error is known", it.ErrorMessage)
	require.Equal(t, poisoned[0].Message, it.ErrorMessage)
	other, err := st.Item(ctx, ids[1])
	require.NoError(t, err)
	require.Equal(t, upgrade.StatusPending, other.Status, "an item never dispatched is no orphan")

	// The history says why, at each step; the failure is marked given up.
	rows, err := pool.Query(ctx, `
		select from_status, to_status, reason, error_code, gave_up from item_events
		where item_id = $1 order by id`, ids[0])
	require.NoError(t, err)
	type event struct {
		From, To, Reason, Code string
		GaveUp                 bool
	}
	events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[event])
	require.NoError(t, err)
	require.Len(t, events, 3)
	for i, e := range events[:2] {
		require.Equal(t, "pending", e.To)
		require.Contains(t, e.Reason, fmt.Sprintf("re-queue %d of at most 2 (reconcile.max_requeues)", i+1))
		require.False(t, e.GaveUp)
	}
	require.Equal(t, event{From: "pending", To: "failed", Reason: "gave up: its job kept vanishing", Code: "internal_error", GaveUp: true}, events[2])

	// A failure the service gave up on does not halt the batch.
	reason, err := st.HaltIfFailing(ctx, b.ID, store.HaltPolicy{FailureRate: 0.1, Window: time.Hour, MinItems: 1})
	require.NoError(t, err)
	require.Empty(t, reason)

	// batch retry --failed: a new generation, whose count starts at zero.
	retried, err := st.RetryFailed(ctx, b.ID, "", "retry", "test")
	require.NoError(t, err)
	require.Equal(t, ids[:1], retried)
	dispatch()
	require.Empty(t, reconcile(), "the new generation was re-queued once only")
	n, generation := requeues()
	require.Equal(t, 1, n)
	require.Equal(t, 1, generation)
}
