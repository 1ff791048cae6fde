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
