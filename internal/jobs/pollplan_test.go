package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestPollPlannerLearnsFromFinishedWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	gov, err := ratelimit.New(st, ratelimit.DefaultLimits(), 1, 0.2)
	require.NoError(t, err)
	const initial, limit = 30 * time.Second, 10 * time.Minute
	planner := func() *jobs.PollPlanner {
		return jobs.NewPollPlanner(st, gov, initial, limit, []float64{0.5, 0.9, 1}, 0.9, slog.New(slog.DiscardHandler))
	}

	fresh := planner()
	require.Equal(t, initial, fresh.First(ctx, upgrade.ProductUpgrade), "nothing learned: the initial interval")
	second := fresh.Next(ctx, upgrade.ProductUpgrade, 1, 5*time.Second)
	require.InDelta(t, initial.Seconds(), second.Seconds(), 0.2*initial.Seconds()+0.01, "nothing learned: the backoff")

	// Ten upgrades that Partner Center finished 4 s, 8 s, ... 40 s after
	// they were created.
	require.NoError(t, st.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		items := make([]store.NewItem, 10)
		for i := range items {
			items[i] = store.NewItem{LineNumber: i + 2, CustomerID: customerID(i), ProductFamily: "Azure"}
		}
		b, err := st.CreateBatch(ctx, store.NewBatch{Name: "learn", Operation: upgrade.ProductUpgrade, CorrelationID: "0d9a4c1e-3f8b-4a5d-8c2e-7b6a5f4e3d2c"}, store.Items(items))
		if err != nil {
			return err
		}
		ids, err := st.ItemIDs(ctx, b.ID)
		if err != nil {
			return err
		}
		created := time.Now().Add(-time.Minute)
		for i, id := range ids {
			if err := st.AdoptUpgrade(ctx, id, 0, customerID(i)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `update upgrades set created_at = $2 where item_id = $1`, id, created); err != nil {
				return err
			}
			ended := created.Add(time.Duration(4*(i+1)) * time.Second)
			if err := st.FinishUpgrade(ctx, id, 0, "Completed", []store.LineItem{{SourceProductID: "s", Status: "Completed", UpgradedDate: &ended}}); err != nil {
				return err
			}
		}
		return nil
	}))

	p := planner()
	first := p.First(ctx, upgrade.ProductUpgrade)
	require.GreaterOrEqual(t, first.Seconds(), 22.0, "first poll at the median, 22 s, plus up to 10%% jitter")
	require.LessOrEqual(t, first.Seconds(), 22*1.1+0.01)

	second = p.Next(ctx, upgrade.ProductUpgrade, 1, 23*time.Second)
	require.GreaterOrEqual(t, second.Seconds(), 36.4-23, "second poll at the 90th percentile, 36.4 s")
	require.LessOrEqual(t, second.Seconds(), (36.4-23)*1.05+0.01)
	third := p.Next(ctx, upgrade.ProductUpgrade, 2, 37*time.Second)
	require.GreaterOrEqual(t, third.Seconds(), 3.0, "third poll when the slowest (40 s) was done")
	require.LessOrEqual(t, third.Seconds(), 3*1.05+0.01)
	fourth := p.Next(ctx, upgrade.ProductUpgrade, 3, 41*time.Second)
	require.InDelta(t, 41.0/4, fourth.Seconds(), 41.0/4*0.05+0.01, "past the ladder, when the age has grown by a quarter")
	old := p.Next(ctx, upgrade.ProductUpgrade, 3, time.Hour)
	require.GreaterOrEqual(t, old.Seconds(), 0.8*4*initial.Seconds(), "then the backoff, when shorter")
	require.LessOrEqual(t, old.Seconds(), 1.2*4*initial.Seconds())
	skipped := p.Next(ctx, upgrade.ProductUpgrade, 0, 22*time.Second)
	require.GreaterOrEqual(t, skipped.Seconds(), 36.4-22, "a skipped early poll waits for the next rung")

	require.False(t, fresh.Early(ctx, upgrade.ProductUpgrade, 5*time.Second), "nothing learned: no early polls")
	require.True(t, p.Early(ctx, upgrade.ProductUpgrade, 22*time.Second), "the median rung is below spare_below 0.9")
	require.False(t, p.Early(ctx, upgrade.ProductUpgrade, 36500*time.Millisecond), "the 90th percentile rung is not")
	require.False(t, p.Early(ctx, upgrade.ProductUpgrade, time.Minute))
	every := jobs.NewPollPlanner(st, gov, initial, limit, []float64{0.5, 0.9, 1}, 0, slog.New(slog.DiscardHandler))
	require.False(t, every.Early(ctx, upgrade.ProductUpgrade, 22*time.Second), "spare_below 0: every rung polls")

	long := jobs.NewPollPlanner(st, gov, time.Second, limit, []float64{0.5, 0.9, 1}, 0.9, slog.New(slog.DiscardHandler))
	require.LessOrEqual(t, long.Next(ctx, upgrade.ProductUpgrade, 1, 23*time.Second), 1200*time.Millisecond,
		"the ladder never polls later than the backoff")
}

func customerID(i int) string {
	return fmt.Sprintf("c1958bc7-3284-4952-a257-de594ee6%04d", i)
}

// A worker in a transaction holds a connection while it plans its first
// poll; planning must never make it wait for a caller that waits for a
// connection, or a full pool deadlocks.
func TestPollPlannerNeverWaitsOnAnotherCallersQuery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(storetest.NewDatabase(t))
	require.NoError(t, err)
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	gov, err := ratelimit.New(st, ratelimit.DefaultLimits(), 1, 0.2)
	require.NoError(t, err)
	p := jobs.NewPollPlanner(st, gov, 3*time.Second, time.Minute, []float64{0.5, 0.9, 1}, 0.9, slog.New(slog.DiscardHandler))

	held, err := pool.Acquire(ctx) // the only connection, as a transaction would
	require.NoError(t, err)
	var release sync.Once
	t.Cleanup(func() { release.Do(held.Release) })
	reading := make(chan time.Duration)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		reading <- p.First(rctx, upgrade.ProductUpgrade) // waits for a connection
	}()
	time.Sleep(300 * time.Millisecond)

	done := make(chan time.Duration)
	go func() { done <- p.First(ctx, upgrade.ProductUpgrade) }()
	select {
	case d := <-done:
		require.Equal(t, 3*time.Second, d, "what is known: nothing learned yet")
	case <-time.After(5 * time.Second):
		t.Fatal("a second caller waited for the first one's query")
	}
	release.Do(held.Release)
	require.Equal(t, 3*time.Second, <-reading)
}
