package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

type testBundle struct {
	st    *store.Store
	batch store.Batch
	ids   []int64
}

func setup(t *testing.T) testBundle {
	t.Helper()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	var b testBundle
	b.st = st
	err := st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		var err error
		b.batch, err = st.CreateBatch(ctx, store.NewBatch{
			Name: "b1", Operation: "product_upgrade", CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c",
		}, store.Items([]store.NewItem{
			{LineNumber: 2, CustomerID: "11111111-1111-1111-1111-111111111111", ProductFamily: "Azure"},
			{LineNumber: 3, CustomerID: "22222222-2222-2222-2222-222222222222", ProductFamily: "Azure"},
		}))
		if err != nil {
			return err
		}
		b.ids, err = st.ItemIDs(ctx, b.batch.ID)
		return err
	})
	require.NoError(t, err)
	return b
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	require.Len(t, b.ids, 2)
	got, err := b.st.BatchByName(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, 2, got.ItemCount)
	require.Equal(t, upgrade.BatchRunning, got.Status)

	it, err := b.st.Item(ctx, b.ids[1])
	require.NoError(t, err)
	require.Equal(t, "22222222-2222-2222-2222-222222222222", it.CustomerID)
	require.Equal(t, upgrade.StatusPending, it.Status)
	require.Equal(t, 3, it.LineNumber)
	require.Equal(t, got.CorrelationID, it.CorrelationID)

	err = b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		_, err := st.CreateBatch(ctx, store.NewBatch{Name: "b1", Operation: "product_upgrade", CorrelationID: got.CorrelationID}, store.Items(nil))
		return err
	})
	require.ErrorIs(t, err, store.ErrBatchExists)

	_, err = b.st.BatchByName(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	// GUIDs are written as their bytes: a subscription reads back as it went
	// in, and a value that is no GUID stops the batch naming its line.
	const sub = "33333333-3333-4333-8333-333333333333"
	var subIDs []int64
	err = b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		nb, err := st.CreateBatch(ctx, store.NewBatch{Name: "subs", Operation: upgrade.SubscriptionUpgrade, CorrelationID: got.CorrelationID},
			store.Items([]store.NewItem{{LineNumber: 2, CustomerID: "44444444-4444-4444-8444-444444444444", SubscriptionID: sub}}))
		if err != nil {
			return err
		}
		subIDs, err = st.ItemIDs(ctx, nb.ID)
		return err
	})
	require.NoError(t, err)
	require.Len(t, subIDs, 1)
	it, err = b.st.Item(ctx, subIDs[0])
	require.NoError(t, err)
	require.Equal(t, sub, it.SubscriptionID)
	require.Equal(t, "44444444-4444-4444-8444-444444444444", it.CustomerID)

	err = b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		_, err := st.CreateBatch(ctx, store.NewBatch{Name: "bad", Operation: upgrade.ProductUpgrade, CorrelationID: got.CorrelationID},
			store.Items([]store.NewItem{
				{LineNumber: 2, CustomerID: "55555555-5555-4555-8555-555555555555", ProductFamily: "Azure"},
				{LineNumber: 3, CustomerID: "not-a-guid", ProductFamily: "Azure"},
			}))
		return err
	})
	require.ErrorContains(t, err, "line 3: customer id")
	_, err = b.st.BatchByName(ctx, "bad")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing of the refused batch is written")
}

func TestTransitionItemEnforcesStateMachine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	id := b.ids[0]

	err := b.st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusCompleted})
	var te *upgrade.TransitionError
	require.True(t, errors.As(err, &te))

	require.NoError(t, b.st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: "created"}))
	// A second worker still believing the item is pending loses.
	err = b.st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress})
	require.ErrorIs(t, err, store.ErrStaleStatus)

	require.NoError(t, b.st.TransitionItem(ctx, id, store.Transition{
		From: upgrade.StatusInProgress, To: upgrade.StatusFailed, ErrorCode: "900120", ErrorMessage: "cannot process",
	}))
	it, err := b.st.Item(ctx, id)
	require.NoError(t, err)
	require.Equal(t, upgrade.StatusFailed, it.Status)
	require.Equal(t, "900120", it.ErrorCode)

	counts, err := b.st.StatusCounts(ctx, b.batch.ID)
	require.NoError(t, err)
	require.Equal(t, map[upgrade.Status]int{
		upgrade.StatusPending: 1, upgrade.StatusFailed: 1, upgrade.StatusInProgress: 0, upgrade.StatusEligible: 0,
		upgrade.StatusIneligible: 0, upgrade.StatusCompleted: 0, upgrade.StatusCancelled: 0,
	}, counts)
}

func TestReportRowsAndBatchCompletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	when := time.Date(2019, 8, 29, 23, 47, 28, 852455500, time.UTC)
	err := b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		if err := st.AdoptUpgrade(ctx, b.ids[0], 0, "up-1"); err != nil {
			return err
		}
		if err := st.AdoptUpgrade(ctx, b.ids[0], 0, "up-1"); err != nil {
			return err
		}
		if err := st.TransitionItem(ctx, b.ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}); err != nil {
			return err
		}
		if err := st.FinishUpgrade(ctx, b.ids[0], 0, "Completed", []store.LineItem{
			{SourceProductID: "s1", SourceProductName: "AzureSubscription", TargetProductID: "t1", TargetProductName: "Microsoft Azure plan", Status: "Completed", UpgradedDate: &when},
			{SourceProductID: "s2", SourceProductName: "AzureSubscription", TargetProductID: "t2", TargetProductName: "Microsoft Azure plan", Status: "Failed", ErrorCode: "900120", ErrorMessage: "boom"},
		}); err != nil {
			return err
		}
		return st.TransitionItem(ctx, b.ids[0], store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted})
	})
	require.NoError(t, err)
	require.ErrorContains(t, b.st.AdoptUpgrade(ctx, b.ids[0], 0, "up-2"), "already carries up-1")

	changes, err := b.st.RollUpBatches(ctx)
	require.NoError(t, err)
	require.Empty(t, changes, "one item is still pending")

	require.NoError(t, b.st.TransitionItem(ctx, b.ids[1], store.Transition{
		From: upgrade.StatusPending, To: upgrade.StatusIneligible, ErrorMessage: "no legacy subscriptions",
	}))
	changes, err = b.st.RollUpBatches(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.BatchRollup{{Batch: "b1", To: upgrade.BatchCompleted}}, changes)

	var rows []store.ReportRow
	require.NoError(t, b.st.ReportRows(ctx, b.batch.ID, func(r store.ReportRow) error {
		rows = append(rows, r)
		return nil
	}))
	require.Len(t, rows, 3)
	require.Equal(t, "up-1", rows[0].UpgradeID)
	require.Equal(t, "s1", rows[0].SourceProductID)
	require.WithinDuration(t, when, *rows[0].UpgradedDate, time.Microsecond, "timestamptz keeps microseconds")
	require.Equal(t, "900120", rows[1].ErrorCode)
	require.Equal(t, upgrade.StatusIneligible, rows[2].Status)
	require.Empty(t, rows[2].UpgradeID)
	require.Equal(t, "no legacy subscriptions", rows[2].ErrorMessage)
}

func TestOrphanedItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	ids, err := b.st.OrphanedItems(ctx, upgrade.ProductUpgrade, upgrade.StatusPending, "create_upgrade", 0, 10)
	require.NoError(t, err)
	require.Equal(t, b.ids, ids, "no jobs exist yet")

	ids, err = b.st.OrphanedItems(ctx, upgrade.ProductUpgrade, upgrade.StatusPending, "create_upgrade", time.Hour, 10)
	require.NoError(t, err)
	require.Empty(t, ids, "items changed too recently")
}

func TestDurationsUsePartnerCentersEndTimes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)

	q := []float64{0.9, 1}
	_, ok, err := b.st.Durations(ctx, upgrade.ProductUpgrade, q)
	require.NoError(t, err)
	require.False(t, ok, "nothing finished yet")

	// Item 0 ended (by its line items) 2 s after its upgrade was adopted;
	// item 1 has no dated line item and counts until the poll that saw it.
	for i, id := range b.ids {
		require.NoError(t, b.st.AdoptUpgrade(ctx, id, 0, fmt.Sprintf("up-%d", i)))
	}
	var created time.Time
	require.NoError(t, b.st.InTx(ctx, func(tx pgx.Tx, _ *store.Store) error {
		return tx.QueryRow(ctx, `
			update upgrades set created_at = now() - interval '10 seconds' returning created_at`).Scan(&created)
	}))
	ended := created.Add(2 * time.Second)
	require.NoError(t, b.st.FinishUpgrade(ctx, b.ids[0], 0, "Completed", []store.LineItem{
		{SourceProductID: "s1", Status: "Completed", UpgradedDate: &ended},
	}))
	require.NoError(t, b.st.FinishUpgrade(ctx, b.ids[1], 0, "Completed", []store.LineItem{
		{SourceProductID: "s2", Status: "Failed"},
	}))

	d, ok, err := b.st.Durations(ctx, upgrade.ProductUpgrade, q)
	require.NoError(t, err)
	require.True(t, ok)
	require.Len(t, d, 2)
	require.InDelta(t, 2+0.9*8, d[0].Seconds(), 1, "90th percentile of 2 s and ~10 s")
	require.InDelta(t, 10, d[1].Seconds(), 1, "undated work lasts until it was seen final")

	_, ok, err = b.st.Durations(ctx, upgrade.Transition, q)
	require.NoError(t, err)
	require.False(t, ok, "durations are per operation")

	// A retried item's new attempt, undated, lasts until it was seen final
	// (~5 s): the earlier attempt's line items do not end it.
	require.NoError(t, b.st.AdoptUpgrade(ctx, b.ids[0], 1, "up-0-again"))
	require.NoError(t, b.st.InTx(ctx, func(tx pgx.Tx, _ *store.Store) error {
		_, err := tx.Exec(ctx, `update upgrades set created_at = now() - interval '5 seconds' where generation = 1`)
		return err
	}))
	require.NoError(t, b.st.FinishUpgrade(ctx, b.ids[0], 1, "Completed", []store.LineItem{{SourceProductID: "s1", Status: "Completed"}}))
	d, ok, err = b.st.Durations(ctx, upgrade.ProductUpgrade, []float64{0, 0.5})
	require.NoError(t, err)
	require.True(t, ok)
	require.InDelta(t, 2, d[0].Seconds(), 0.5, "shortest: item 0's first attempt")
	require.InDelta(t, 5, d[1].Seconds(), 0.5, "median: item 0's second attempt")
}

// A retry of failed items holds its batch: a roll-up meanwhile neither waits
// for it nor completes the batch from a view taken before the retry.
func TestRollUpLeavesABatchBeingRetriedAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	for _, id := range b.ids {
		require.NoError(t, b.st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
		require.NoError(t, b.st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusFailed, ErrorCode: "900120"}))
	}

	retrying, rolled := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
			if _, err := st.LockBatch(ctx, "b1"); err != nil {
				return err
			}
			if _, err := st.RetryFailed(ctx, b.batch.ID, "", "retry", "test"); err != nil {
				return err
			}
			close(retrying)
			<-rolled
			return nil
		})
	}()
	<-retrying
	quick, cancel := context.WithTimeout(ctx, 5*time.Second)
	changes, err := b.st.RollUpBatches(quick)
	cancel()
	close(rolled)
	require.NoError(t, err, "the roll-up does not wait for the retry")
	require.Empty(t, changes)
	require.NoError(t, <-done)

	changes, err = b.st.RollUpBatches(ctx)
	require.NoError(t, err)
	require.Empty(t, changes, "the retried items are pending again")
	got, err := b.st.BatchByName(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchRunning, got.Status)
}
