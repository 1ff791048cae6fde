package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// An item handed back while the dispatcher works from an older view of the
// batch is still queued: the cursor never moves past it.
func TestDispatchCursorKeepsItemsHandedBackMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))

	items := make([]store.NewItem, 4)
	for i := range items {
		items[i] = store.NewItem{LineNumber: i + 2, CustomerID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i+1), ProductFamily: "Azure"}
	}
	var ids []int64
	require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		b, err := st.CreateBatch(ctx, store.NewBatch{Name: "d", Operation: upgrade.ProductUpgrade, CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c"}, store.Items(items))
		if err != nil {
			return err
		}
		ids, err = st.ItemIDs(ctx, b.ID)
		return err
	}))

	take := func(b *store.StartableBatch, limit int) []int64 {
		t.Helper()
		var got []int64
		require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
			var err error
			got, err = st.TakeForDispatch(ctx, b, limit)
			return err
		}))
		return got
	}
	batches, err := st.StartableBatches(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	b := batches[0]
	require.Equal(t, ids[:2], take(&b, 2))

	// The dispatcher's view (cursor after the second item) goes stale when
	// the first item is handed back.
	require.NoError(t, st.Unqueue(ctx, ids[0]))
	require.Equal(t, []int64{ids[0], ids[2], ids[3]}, take(&b, 10))
	require.Empty(t, take(&b, 10), "every item is queued once")
}

// The dispatcher's walk ends at a batch's last item (its last canary item
// while it runs as a canary), as the import recorded them.
func TestDispatchEndsAtTheBatchsLastItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)

	create := func(name string, n, canary int) []int64 {
		t.Helper()
		items := make([]store.NewItem, n)
		for i := range items {
			items[i] = store.NewItem{LineNumber: i + 2, CustomerID: fmt.Sprintf("%08d-0000-4000-8000-%012d", i+1, len(name)), ProductFamily: "Azure"}
		}
		var ids []int64
		require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
			b, err := st.CreateBatch(ctx, store.NewBatch{Name: name, Operation: upgrade.ProductUpgrade, CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c", CanarySize: canary}, store.Items(items))
			if err != nil {
				return err
			}
			ids, err = st.ItemIDs(ctx, b.ID)
			return err
		}))
		return ids
	}
	full, canary := create("full", 3, 0), create("canary", 4, 2)
	var ends [][2]int64
	rows, err := pool.Query(ctx, `select last_item_id, last_canary_id from batches order by id`)
	require.NoError(t, err)
	ends, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]int64, error) {
		var e [2]int64
		return e, r.Scan(&e[0], &e[1])
	})
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{full[2], 0}, {canary[3], canary[1]}}, ends)

	batches, err := st.StartableBatches(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 2)
	for i, want := range [][]int64{full, canary[:2]} {
		b := batches[i]
		for _, expect := range [][]int64{want, nil} {
			var got []int64
			require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
				got, err = st.TakeForDispatch(ctx, &b, 10)
				return err
			}))
			require.Equal(t, expect, got)
		}
	}
}
