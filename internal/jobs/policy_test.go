package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
	url    string
	deps   *jobs.Deps
}

// setup gives a committed one-item batch and a Partner Center that answers
// every eligibility request with status and body.
func setup(t *testing.T, status int, header http.Header, body string) testBundle {
	t.Helper()
	return setupHandler(t, func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

// setupHandler is setup with a Partner Center that answers through h.
func setupHandler(t *testing.T, h http.HandlerFunc) testBundle {
	t.Helper()
	ctx := context.Background()
	pc := httptest.NewServer(h)
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
	return testBundle{pool: pool, st: st, itemID: ids[0], url: pc.URL, deps: &jobs.Deps{
		Store: st, Upgrades: client.ProductUpgrades, Logger: slog.New(slog.DiscardHandler), Governor: gov,
		Worker: "test-worker", LeaseTTL: time.Minute, AuthPause: time.Minute, StuckAfter: time.Hour,
		Polls:      jobs.NewPollPlanner(st, gov, time.Second, time.Minute, nil, 0, slog.New(slog.DiscardHandler)),
		StallAfter: time.Minute, ReconcileInterval: time.Minute,
		Retry:  jobs.RetryPolicy{Base: time.Second, Max: 10 * time.Second},
		Outage: store.OutagePolicy{AfterFailures: 3, ProbeBase: 300 * time.Millisecond, ProbeMax: time.Second},
	}}
}

// newClient returns a client of the Partner Center at url, without
// authentication.
func newClient(t *testing.T, url string) *partnercenter.Client {
	t.Helper()
	client, err := partnercenter.NewClient(http.DefaultClient, partnercenter.WithBaseURL(url))
	require.NoError(t, err)
	return client
}

// newTokenClient returns a client of the Partner Center at url whose tokens
// come from url's /tenant/oauth2/v2.0/token.
func newTokenClient(t *testing.T, url string) *partnercenter.Client {
	t.Helper()
	hc, err := partnercenter.NewHTTPClient(context.Background(), partnercenter.Credentials{
		TenantID: "tenant", ClientID: "client", ClientSecret: "client-secret-value", RefreshToken: "refresh-token-value",
		TokenURL: url + "/tenant/oauth2/v2.0/token",
	}, nil)
	require.NoError(t, err)
	client, err := partnercenter.NewClient(hc, partnercenter.WithBaseURL(url))
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
	defer func() { _ = tx.Rollback(ctx) }() // the job row only; the worker writes through the pool
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

	t.Run("5xx waits without using an attempt and leaves the item pending", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusServiceUnavailable, nil, `<html>busy</html>`)
		res, err := b.work(t, 5)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "no attempt used")
		require.Empty(t, res.Job.Errors)
		require.WithinDuration(t, time.Now().Add(time.Second), res.Job.ScheduledAt, 500*time.Millisecond, "retry_base backoff")
		require.Equal(t, upgrade.StatusPending, b.item(t).Status)
	})

	t.Run("5xx on the last attempt decides nothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, http.StatusInternalServerError, nil, `{"code":800003,"description":"Unexpected service error."}`)
		res, err := b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		it := b.item(t)
		require.Equal(t, upgrade.StatusPending, it.Status, "an unanswered request never fails an item")
		require.Empty(t, it.ErrorCode)
	})

	t.Run("a token endpoint that throttles holds every job for its Retry-After and fails nothing", func(t *testing.T) {
		t.Parallel()
		var tokenCalls atomic.Int32
		b := setupHandler(t, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/token") {
				tokenCalls.Add(1)
				w.Header().Set("Retry-After", "30")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"error":"temporarily_unavailable","error_description":"AADSTS50196: too many requests"}`)
				return
			}
			t.Errorf("no Partner Center call without a token: %s", r.URL.Path)
		})
		b.deps.Upgrades = newTokenClient(t, b.url).ProductUpgrades
		res, err := b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.WithinDuration(t, time.Now().Add(30*time.Second), res.Job.ScheduledAt, 3*time.Second)
		require.Equal(t, upgrade.StatusPending, b.item(t).Status)

		hold, held, err := b.st.BlockingHold(context.Background(), []string{jobs.FamilyToken})
		require.NoError(t, err)
		require.True(t, held)
		require.Equal(t, store.OutageHold(jobs.FamilyToken), hold.Name)
		require.WithinDuration(t, time.Now().Add(30*time.Second), hold.Until, 3*time.Second, "every replica waits for Retry-After")

		res, err = b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, int32(1), tokenCalls.Load(), "nobody asks the token endpoint again before Retry-After")
	})

	t.Run("a streak of transient failures places an outage hold; the first answer to a probe lifts it", func(t *testing.T) {
		t.Parallel()
		var down atomic.Bool
		var calls atomic.Int32
		down.Store(true)
		b := setupHandler(t, func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			if down.Load() {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"customerId":"c1958bc7-3284-4952-a257-de594ee64743","productFamily":"Azure","isEligible":false,"reason":"Customer has no legacy subscription."}`)
		})
		ctx := context.Background()
		for i := range 3 {
			res, err := b.work(t, 1)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "failure %d", i+1)
		}
		hold, held, err := b.st.BlockingHold(ctx, []string{string(upgrade.ProductUpgrade)})
		require.NoError(t, err)
		require.True(t, held, "three failures in a row place the hold")
		require.True(t, hold.IsOutage())
		require.Contains(t, hold.Reason, "502")

		// Under the hold no job calls, until the probe is due.
		before := calls.Load()
		res, err := b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, before, calls.Load(), "no call under the hold")

		// A probe that fails pushes the next one further out.
		time.Sleep(time.Until(hold.Until) + 50*time.Millisecond)
		res, err = b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
		require.Equal(t, before+1, calls.Load(), "one probe call")
		next, held, err := b.st.BlockingHold(ctx, []string{string(upgrade.ProductUpgrade)})
		require.NoError(t, err)
		require.True(t, held)
		require.Equal(t, 1, next.Probes)
		require.Equal(t, upgrade.StatusPending, b.item(t).Status)

		// Partner Center answers again: the probe's answer lifts the hold
		// and the item is settled by that answer.
		down.Store(false)
		time.Sleep(time.Until(next.Until) + 50*time.Millisecond)
		res, err = b.work(t, 1)
		require.NoError(t, err)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		_, held, err = b.st.BlockingHold(ctx, []string{string(upgrade.ProductUpgrade)})
		require.NoError(t, err)
		require.False(t, held, "hold lifted")
		it := b.item(t)
		require.Equal(t, upgrade.StatusIneligible, it.Status)
		require.Equal(t, "Customer has no legacy subscription.", it.ErrorMessage)
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

		hold, held, err := b.st.BlockingHold(context.Background(), nil)
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
