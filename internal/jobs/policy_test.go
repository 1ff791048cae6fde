package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

type testBundle struct {
	pool   *pgxpool.Pool
	st     *store.Store
	itemID int64
	deps   *jobs.Deps
}

// setup gives a committed one-item batch and a Partner Center that answers
// every eligibility request with status and body.
func setup(t *testing.T, status int, header http.Header, body string) testBundle {
	t.Helper()
	ctx := context.Background()
	pc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(pc.Close)
	client := newClient(t, pc.URL)

	pool := storetest.NewPool(t)
	st := store.New(pool)
	var ids []int64
	require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		var err error
		b, err := st.CreateBatch(ctx, store.NewBatch{Name: "p", Operation: "product_upgrade", CorrelationID: "0d9a4c1e-3f8b-4a5d-8c2e-7b6a5f4e3d2c"},
			store.Items([]store.NewItem{{LineNumber: 2, CustomerID: "c1958bc7-3284-4952-a257-de594ee64743", ProductFamily: "Azure"}}))
		if err != nil {
			return err
		}
		ids, err = st.ItemIDs(ctx, b.ID)
		return err
	}))
	gov, err := ratelimit.New(st, ratelimit.DefaultLimits(), 1, 0.2)
	require.NoError(t, err)
	return testBundle{pool: pool, st: st, itemID: ids[0], deps: &jobs.Deps{
		Store: st, Upgrades: client.ProductUpgrades, Logger: slog.New(slog.DiscardHandler), Governor: gov,
		Worker: "test-worker", LeaseTTL: time.Minute, AuthPause: time.Minute, StuckAfter: time.Hour,
		Polls:      jobs.NewPollPlanner(st, gov, time.Second, time.Minute, nil, 0, slog.New(slog.DiscardHandler)),
		StallAfter: time.Minute, ReconcileInterval: time.Minute,
	}}
}

// work runs one create_upgrade attempt; the error is the worker's own.
func newClient(t *testing.T, url string) *partnercenter.Client {
	t.Helper()
	client, err := partnercenter.NewClient(http.DefaultClient, partnercenter.WithBaseURL(url))
	require.NoError(t, err)
	return client
}

// work runs one create_upgrade attempt; the error is the worker's own.
func (b testBundle) work(t *testing.T, maxAttempts int) (*rivertest.WorkResult, error) {
	t.Helper()
	ctx := context.Background()
	w := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, jobs.NewCreateUpgradeWorker(b.deps))
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	return w.Work(ctx, t, tx, jobs.CreateUpgradeArgs{ItemID: b.itemID}, &river.InsertOpts{MaxAttempts: maxAttempts})
}

func (b testBundle) item(t *testing.T) store.Item {
	t.Helper()
	it, err := b.st.Item(context.Background(), b.itemID)
	require.NoError(t, err)
	return it
}

func TestErrorPolicy(t *testing.T) {
	t.Parallel()

	t.Run("429 snoozes for Retry-After and leaves the item pending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusTooManyRequests, http.Header{"Retry-After": {"42"}},
			`{"statusCode":429,"message":"Rate limit is exceeded. Try again in 42 seconds."}`)
		res, err := b.work(t, 5)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.WithinDuration(t, time.Now().Add(42*time.Second), res.Job.ScheduledAt, 5*time.Second)
		require.Equal(t, upgrade.StatusPending, b.item(t).Status)

		calls, err := b.st.APICalls(context.Background(), b.itemID)
		require.NoError(t, err)
		require.Len(t, calls, 1)
		require.Equal(t, "product_upgrade_eligibility", calls[0].Operation)
		require.Equal(t, 429, calls[0].HTTPStatus)
		require.NotEmpty(t, calls[0].RequestID)
		require.Equal(t, "0d9a4c1e-3f8b-4a5d-8c2e-7b6a5f4e3d2c", calls[0].CorrelationID)

		// Every job, in any replica, now holds back from the operation
		// until Retry-After has passed, without calling Partner Center.
		res, err = b.work(t, 5)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.WithinDuration(t, time.Now().Add(42*time.Second), res.Job.ScheduledAt, 5*time.Second)
		calls, err = b.st.APICalls(context.Background(), b.itemID)
		require.NoError(t, err)
		require.Len(t, calls, 1, "no call while the gate is closed")
	})

	t.Run("terminal 4xx fails the item with Partner Center's code", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusBadRequest, nil, `{"code":900107,"description":"Azure catalog item not found.","source":"PartnerFD"}`)
		res, err := b.work(t, 5)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		it := b.item(t)
		require.Equal(t, upgrade.StatusFailed, it.Status)
		require.Equal(t, "900107", it.ErrorCode)
		require.Equal(t, "Azure catalog item not found.", it.ErrorMessage)
	})

	t.Run("5xx retries and leaves the item pending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusServiceUnavailable, nil, `<html>busy</html>`)
		res, err := b.work(t, 5)
		require.ErrorContains(t, err, "503")
		require.Equal(t, river.EventKindJobFailed, res.EventKind)
		require.Contains(t, []string{"retryable", "available"}, string(res.Job.State), "scheduled for another attempt")
		require.Len(t, res.Job.Errors, 1)
		require.Equal(t, upgrade.StatusPending, b.item(t).Status)
	})

	t.Run("5xx on the last attempt fails the item and cancels the job", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusInternalServerError, nil, `{"code":800003,"description":"Unexpected service error."}`)
		res, err := b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCancelled, res.EventKind)
		require.Len(t, res.Job.Errors, 1)
		require.Contains(t, res.Job.Errors[0].Error, "giving up after 1 attempts")
		it := b.item(t)
		require.Equal(t, upgrade.StatusFailed, it.Status)
		require.Equal(t, "800003", it.ErrorCode)
	})

	t.Run("authentication failure pauses all work, alerts and leaves the item untouched", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusUnauthorized, http.Header{"WWW-Authenticate": {`Bearer error="invalid_token"`}}, ``)
		res, err := b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "no attempt used")
		require.WithinDuration(t, time.Now().Add(time.Minute), res.Job.ScheduledAt, 5*time.Second)
		it := b.item(t)
		require.Equal(t, upgrade.StatusPending, it.Status)
		require.Empty(t, it.ErrorCode)

		hold, held, err := b.st.ActiveHold(context.Background())
		require.NoError(t, err)
		require.True(t, held, "a service-wide hold is in force")
		require.Equal(t, store.HoldAuth, hold.Name)
		require.Contains(t, hold.Reason, "refused our credentials")

		// Every other job, in any process sharing the database, now waits
		// without calling Partner Center.
		res, err = b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		calls, err := b.st.APICalls(context.Background(), b.itemID)
		require.NoError(t, err)
		require.Len(t, calls, 1, "no call while the hold is in force")
	})
}
