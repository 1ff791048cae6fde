package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestProgressCountsSettledItemsOldestInProgressAndTopErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	st := b.st

	p, err := st.Progress(ctx, b.batch.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 0, p.SettledShort)
	require.Equal(t, 0, p.SettledLong)
	require.Nil(t, p.OldestInProgress, "no item in progress")
	require.Empty(t, p.TopErrors)

	// Item 1 goes in progress, then fails; item 2 stays in progress.
	require.NoError(t, st.TransitionItem(ctx, b.ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
	require.NoError(t, st.TransitionItem(ctx, b.ids[1], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
	p, err = st.Progress(ctx, b.batch.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 0, p.SettledShort, "in_progress is not final")
	require.NotNil(t, p.OldestInProgress)
	require.Less(t, *p.OldestInProgress, time.Minute)

	require.NoError(t, st.TransitionItem(ctx, b.ids[0], store.Transition{
		From: upgrade.StatusInProgress, To: upgrade.StatusFailed, ErrorCode: "800002", ErrorMessage: "boom",
	}))
	p, err = st.Progress(ctx, b.batch.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 1, p.SettledShort)
	require.Equal(t, 1, p.SettledLong)
	require.NotNil(t, p.OldestInProgress, "item 2 is still in progress")
	require.Equal(t, []store.ErrorCount{{Code: "800002", Count: 1}}, p.TopErrors)

	// An event older than the long window does not count.
	_, err = storeExec(ctx, t, st, `update item_events set created_at = now() - interval '20 minutes'
		where item_id = $1 and to_status = 'failed'`, b.ids[0])
	require.NoError(t, err)
	p, err = st.Progress(ctx, b.batch.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 0, p.SettledShort)
	require.Equal(t, 0, p.SettledLong)

	// ... and one between the two windows counts in the long one only.
	_, err = storeExec(ctx, t, st, `update item_events set created_at = now() - interval '10 minutes'
		where item_id = $1 and to_status = 'failed'`, b.ids[0])
	require.NoError(t, err)
	p, err = st.Progress(ctx, b.batch.ID, 5)
	require.NoError(t, err)
	require.Equal(t, 0, p.SettledShort)
	require.Equal(t, 1, p.SettledLong)

	all, err := st.BatchesProgress(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "b1", all[0].Name)
	require.Equal(t, 2, all[0].ItemCount)
	require.Equal(t, 1, all[0].Open, "item 2 is in progress")
	require.Equal(t, 0, all[0].SettledShort)
	require.Equal(t, 1, all[0].SettledLong)
}

// storeExec runs one statement on the store's database, for tests that
// move time.
func storeExec(ctx context.Context, t *testing.T, st *store.Store, sql string, args ...any) (int64, error) {
	t.Helper()
	var n int64
	err := st.InTx(ctx, func(tx pgx.Tx, _ *store.Store) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}
