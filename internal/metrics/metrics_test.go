package metrics

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// countingSnapshotter is a hand-written Snapshotter that counts its queries.
type countingSnapshotter struct {
	calls atomic.Int32
	fail  atomic.Bool
}

func (c *countingSnapshotter) MetricsSnapshot(context.Context, int) (store.MetricsSnapshot, error) {
	c.calls.Add(1)
	if c.fail.Load() {
		return store.MetricsSnapshot{}, errors.New("database down")
	}
	return store.MetricsSnapshot{
		ActiveBatches: []string{"wave-1"},
		Items: []store.ActiveStatusCount{
			{Batch: "wave-1", Status: upgrade.StatusCompleted, Count: 7},
			{Batch: "wave-1", Status: upgrade.StatusPending, Count: 3},
		},
		Stuck:     map[string]int64{"wave-1": 1},
		LineItems: map[string]int64{"completed": 7, "Some Odd Status!": 1},
		Batches:   map[string]int64{"running": 1, "completed": 2},
		Holds:     map[string]bool{"manual": false},
		RiverJobs: []store.RiverJobCount{{Kind: "create_upgrade", State: "available", Count: 2}},

		RiverAvailable:       2,
		RiverOldestAvailable: 1500 * time.Millisecond,
		LearnedRates:         []store.LearnedRate{{Limit: "subscriptions", ConfiguredPerSecond: 500.0 / 60, LearnedPerSecond: 3.5}},
	}, nil
}

func TestMetricsLintAndValues(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, "v1.2.3")
	require.NoError(t, err)
	src := &countingSnapshotter{}
	require.NoError(t, reg.Register(NewDBCollector(src, time.Hour, 20, slog.New(slog.DiscardHandler))))

	m.ObserveCall(partnercenter.CallInfo{Operation: partnercenter.OpProductUpgradeCreate, StatusCode: 202, Duration: 120 * time.Millisecond})
	m.ObserveCall(partnercenter.CallInfo{Operation: partnercenter.OpProductUpgradeCreate, StatusCode: 429, Duration: 10 * time.Millisecond,
		Err: &partnercenter.RateLimitError{Err: &partnercenter.Error{StatusCode: 429}, RetryAfter: 7 * time.Second}})
	m.ObserveCall(partnercenter.CallInfo{Operation: partnercenter.OpProductUpgradeStatus, StatusCode: 404})
	m.ObserveCall(partnercenter.CallInfo{Operation: partnercenter.OpProductUpgradeStatus, StatusCode: 0, Duration: time.Second})
	m.ObserveToken(partnercenter.TokenInfo{StatusCode: 200})
	m.ObserveToken(partnercenter.TokenInfo{StatusCode: 400, Err: errors.New("refused")})
	m.ObserveItem(upgrade.ProductUpgrade, upgrade.StatusInProgress, "")
	m.ObserveItem(upgrade.ProductUpgrade, upgrade.StatusFailed, "900329")
	m.ObserveItem(upgrade.Transition, upgrade.StatusFailed, "a very long error code that nobody should use as a label")
	m.ObserveItem(upgrade.Transition, upgrade.StatusFailed, "bad code!")
	m.ObserveItem(upgrade.ProductUpgrade, upgrade.StatusFailed, CodeInternalError)
	m.ObservePoisoned(upgrade.ProductUpgrade)
	m.ObserveAttention(upgrade.SubscriptionUpgrade, "license_errors")
	m.ObserveAttention(upgrade.ProductUpgrade, "900120")
	m.ObserveDeclaredDead([]store.DeadProcess{{ID: "a", JobsHandedBack: 3}, {ID: "b", JobsHandedBack: 4}})
	m.SetConfiguredRates(map[string]float64{"subscriptions": 500.0 / 60, "product_upgrade_create": 5})

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)

	// Every operation × status class exists from the start.
	require.Equal(t, len(Operations)*len(StatusClasses), testutil.CollectAndCount(m.requests))
	v := func(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("product_upgrade_create", "2xx")))
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("product_upgrade_create", "429")))
	require.Equal(t, 0.0, v(m.requests.WithLabelValues("product_upgrade_create", "4xx")), "429 is its own class")
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("product_upgrade_status", "4xx")))
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("product_upgrade_status", "error")))
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("token", "2xx")))
	require.Equal(t, 1.0, v(m.requests.WithLabelValues("token", "4xx")))
	require.Equal(t, 0.0, v(m.requests.WithLabelValues("transition_list", "5xx")))
	require.Equal(t, 1.0, v(m.throttled.WithLabelValues("product_upgrade_create")))
	require.Equal(t, 7.0, v(m.retryAfter.WithLabelValues("product_upgrade_create")))
	require.Equal(t, 1.0, v(m.tokens.WithLabelValues("success")))
	require.Equal(t, 1.0, v(m.tokens.WithLabelValues("failure")))
	require.Equal(t, 1.0, v(m.transitions.WithLabelValues("product_upgrade", "in_progress")))
	require.Equal(t, 0.0, v(m.transitions.WithLabelValues("subscription_upgrade", "completed")))
	require.Equal(t, 2.0, v(m.transitions.WithLabelValues("transition", "failed")))
	require.Equal(t, 1.0, v(m.failed.WithLabelValues("product_upgrade", "900329")))
	require.Equal(t, 2.0, v(m.failed.WithLabelValues("transition", "unknown")))
	require.Equal(t, 1.0, v(m.failed.WithLabelValues("product_upgrade", "internal_error")))
	require.Equal(t, 2.0, v(m.declared))
	require.Equal(t, 7.0, v(m.handedBack))
	require.Equal(t, 1.0, v(m.poisoned.WithLabelValues("product_upgrade")))
	require.Equal(t, 0.0, v(m.poisoned.WithLabelValues("transition")), "every operation starts at zero")
	require.Equal(t, len(upgrade.Operations()), testutil.CollectAndCount(m.poisoned))
	require.Equal(t, 1.0, v(m.attention.WithLabelValues("subscription_upgrade", "license_errors")))
	require.Equal(t, 1.0, v(m.attention.WithLabelValues("product_upgrade", "900120")), "Partner Center's code as recorded")
	require.Equal(t, 0.0, v(m.attention.WithLabelValues("transition", "events_failed")), "own codes exist from the start")

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP orchestrator_items Items of the batches the workers are moving (running or canary, newest 20), by batch and status.
# TYPE orchestrator_items gauge
orchestrator_items{batch="wave-1",status="cancelled"} 0
orchestrator_items{batch="wave-1",status="completed"} 7
orchestrator_items{batch="wave-1",status="eligible"} 0
orchestrator_items{batch="wave-1",status="failed"} 0
orchestrator_items{batch="wave-1",status="in_progress"} 0
orchestrator_items{batch="wave-1",status="ineligible"} 0
orchestrator_items{batch="wave-1",status="pending"} 3
# HELP orchestrator_items_stuck Items of a batch in progress and flagged stuck, no longer polled until batch resume.
# TYPE orchestrator_items_stuck gauge
orchestrator_items_stuck{batch="wave-1"} 1
# HELP orchestrator_line_items Line items of the same batches as orchestrator_items, by Partner Center's line item status (lower case).
# TYPE orchestrator_line_items gauge
orchestrator_line_items{status="completed"} 7
orchestrator_line_items{status="failed"} 0
orchestrator_line_items{status="in_progress"} 0
orchestrator_line_items{status="unknown"} 1
# HELP orchestrator_work_paused 1 while every job is paused for reason, else 0.
# TYPE orchestrator_work_paused gauge
orchestrator_work_paused{reason="auth"} 0
orchestrator_work_paused{reason="manual"} 0
orchestrator_work_paused{reason="outage"} 0
# HELP orchestrator_river_available_jobs River jobs ready to run now and not yet fetched by a worker (state available).
# TYPE orchestrator_river_available_jobs gauge
orchestrator_river_available_jobs 2
# HELP orchestrator_river_oldest_available_job_age_seconds Seconds since the oldest available River job became runnable; 0 when there is none.
# TYPE orchestrator_river_oldest_available_job_age_seconds gauge
orchestrator_river_oldest_available_job_age_seconds 1.5
# HELP orchestrator_db_query_up 1 when the last query behind the database-backed gauges succeeded, else 0.
# TYPE orchestrator_db_query_up gauge
orchestrator_db_query_up 1
# HELP orchestrator_rate_limit_learned_per_second Calls per second the rate governor allows each limit now, learned from Partner Center's 429s (before headroom); at most the configured rate.
# TYPE orchestrator_rate_limit_learned_per_second gauge
orchestrator_rate_limit_learned_per_second{limit="subscriptions"} 3.5
# HELP orchestrator_rate_limit_configured_per_second Calls per second rate_limits.limits allows each limit (calls ÷ per, before headroom), as this process is configured.
# TYPE orchestrator_rate_limit_configured_per_second gauge
orchestrator_rate_limit_configured_per_second{limit="product_upgrade_create"} 5
orchestrator_rate_limit_configured_per_second{limit="subscriptions"} 8.333333333333334
`), "orchestrator_items", "orchestrator_items_stuck", "orchestrator_line_items", "orchestrator_work_paused",
		"orchestrator_river_available_jobs", "orchestrator_river_oldest_available_job_age_seconds", "orchestrator_db_query_up",
		"orchestrator_rate_limit_learned_per_second", "orchestrator_rate_limit_configured_per_second"))

	// Every scrape within the TTL reuses the first query.
	_, err = reg.Gather()
	require.NoError(t, err)
	require.Equal(t, int32(1), src.calls.Load(), "several scrapes, one query per TTL")
}

func TestDBCollectorKeepsValuesOnFailure(t *testing.T) {
	t.Parallel()

	src := &countingSnapshotter{}
	c := NewDBCollector(src, time.Nanosecond, 20, slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))
	_, err := reg.Gather()
	require.NoError(t, err)
	src.fail.Store(true)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP orchestrator_db_query_up 1 when the last query behind the database-backed gauges succeeded, else 0.
# TYPE orchestrator_db_query_up gauge
orchestrator_db_query_up 0
# HELP orchestrator_items_stuck Items of a batch in progress and flagged stuck, no longer polled until batch resume.
# TYPE orchestrator_items_stuck gauge
orchestrator_items_stuck{batch="wave-1"} 1
`), "orchestrator_db_query_up", "orchestrator_items_stuck"))
}

func TestErrorCodeLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"900329": "900329", "target_ambiguous": "target_ambiguous", "license_errors": "license_errors",
		"max_attempts": "max_attempts", "transport": "transport", "token_invalid_grant": "token_invalid_grant",
		"": "unknown", "has space": "unknown", "x\n": "unknown", strings.Repeat("a", 41): "unknown",
	} {
		require.Equal(t, want, ErrorCodeLabel(in), in)
	}
}

// TestDBCollectorAgainstPostgreSQL checks the real queries: values move
// when batches and items change.
func TestDBCollectorAgainstPostgreSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(NewDBCollector(st, time.Nanosecond, 20, slog.New(slog.DiscardHandler))))

	gauge := func(name string, labels map[string]string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
						continue next
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		return -1 // absent
	}

	require.Equal(t, 1.0, gauge("orchestrator_db_query_up", nil))
	require.Equal(t, 0.0, gauge("orchestrator_batches", map[string]string{"status": "running"}))
	require.Equal(t, 0.0, gauge("orchestrator_work_paused", map[string]string{"reason": "auth"}))
	require.Equal(t, -1.0, gauge("orchestrator_items", map[string]string{"batch": "wave-1"}))

	// Processes: alive until stopped or declared dead.
	require.Equal(t, 0.0, gauge("orchestrator_processes_alive", nil))
	for _, id := range []string{"p-1", "p-2", "p-3"} {
		require.NoError(t, st.RegisterProcess(ctx, id, "h", 1))
	}
	require.NoError(t, st.StopProcess(ctx, "p-3"))
	require.Equal(t, 2.0, gauge("orchestrator_processes_alive", nil))
	_, err := pool.Exec(ctx, `update processes set beat_at = now() - interval '1 minute' where id = 'p-2'`)
	require.NoError(t, err)
	dead, err := st.DeclareDead(ctx, "p-1", 30*time.Second)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, 1.0, gauge("orchestrator_processes_alive", nil))

	var b store.Batch
	var ids []int64
	require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		var err error
		b, err = st.CreateBatch(ctx, store.NewBatch{Name: "wave-1", Operation: upgrade.ProductUpgrade, CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c"},
			store.Items([]store.NewItem{
				{LineNumber: 2, CustomerID: "c1958bc7-3284-4952-a257-de594ee64743", ProductFamily: "Azure"},
				{LineNumber: 3, CustomerID: "0b1c2d3e-3284-4952-a257-de594ee64743", ProductFamily: "Azure"},
				{LineNumber: 4, CustomerID: "1b1c2d3e-3284-4952-a257-de594ee64743", ProductFamily: "Azure"},
			}))
		return err
	}))
	require.NoError(t, pool.QueryRow(ctx, `select array_agg(id order by line_number) from batch_items where batch_id = $1`, b.ID).Scan(&ids))
	items := func(status string) float64 {
		return gauge("orchestrator_items", map[string]string{"batch": "wave-1", "status": status})
	}
	require.Equal(t, 3.0, items("pending"))
	require.Equal(t, 0.0, items("completed"))
	require.Equal(t, 1.0, gauge("orchestrator_batches", map[string]string{"status": "running"}))

	require.NoError(t, st.TransitionItem(ctx, ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
	require.NoError(t, st.TransitionItem(ctx, ids[1], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress}))
	require.NoError(t, st.TransitionItem(ctx, ids[1], store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted}))
	_, err = pool.Exec(ctx, `update batch_items set stuck_at = now() where id = $1`, ids[0])
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `insert into line_items (item_id, position, status) values ($1, 0, 'Completed'), ($1, 1, 'Failed')`, ids[1])
	require.NoError(t, err)
	require.NoError(t, st.PlaceHold(ctx, store.HoldAuth, "test", time.Now().Add(time.Hour)))
	_, err = pool.Exec(ctx, `insert into river_job (kind, args, state, scheduled_at, max_attempts) values ('reconcile', '{}', 'available', now() - interval '30 seconds', 5)`)
	require.NoError(t, err)

	require.Equal(t, 1.0, items("pending"))
	require.Equal(t, 1.0, items("in_progress"))
	require.Equal(t, 1.0, items("completed"))
	require.Equal(t, 1.0, gauge("orchestrator_items_stuck", map[string]string{"batch": "wave-1"}))
	require.Equal(t, 1.0, gauge("orchestrator_line_items", map[string]string{"status": "completed"}))
	require.Equal(t, 1.0, gauge("orchestrator_line_items", map[string]string{"status": "failed"}))
	require.Equal(t, 1.0, gauge("orchestrator_work_paused", map[string]string{"reason": "auth"}))
	require.Equal(t, 0.0, gauge("orchestrator_work_paused", map[string]string{"reason": "outage"}))
	require.Equal(t, 1.0, gauge("orchestrator_river_jobs", map[string]string{"kind": "reconcile", "state": "available"}))
	require.Equal(t, 0.0, gauge("orchestrator_river_jobs", map[string]string{"kind": "reconcile", "state": "completed"}))
	require.Equal(t, 1.0, gauge("orchestrator_river_available_jobs", nil))
	require.GreaterOrEqual(t, gauge("orchestrator_river_oldest_available_job_age_seconds", nil), 29.0)

	// An outage hold is in force until it is released, whatever its next
	// probe time, and its age counts from the first failure of the streak.
	outage := store.OutagePolicy{AfterFailures: 2, ProbeBase: time.Millisecond, ProbeMax: time.Millisecond}
	for range 2 {
		_, err = st.RecordTransient(ctx, string(upgrade.ProductUpgrade), "HTTP 503", outage)
		require.NoError(t, err)
	}
	time.Sleep(1100 * time.Millisecond)
	require.Equal(t, 1.0, gauge("orchestrator_work_paused", map[string]string{"reason": "outage"}))
	require.GreaterOrEqual(t, gauge("orchestrator_work_paused_seconds", map[string]string{"reason": "outage"}), 1.0)
	_, err = st.RecordAnsweredCall(ctx, store.APICall{Operation: "product_upgrade_status", HTTPStatus: 200}, []string{string(upgrade.ProductUpgrade)})
	require.NoError(t, err)
	require.Equal(t, 0.0, gauge("orchestrator_work_paused", map[string]string{"reason": "outage"}))
	require.Equal(t, 0.0, gauge("orchestrator_work_paused_seconds", map[string]string{"reason": "outage"}))

	// The learned rate of a limit appears once the limit is used, and
	// follows a 429 that lowered it.
	require.Equal(t, -1.0, gauge("orchestrator_rate_limit_learned_per_second", map[string]string{"limit": "product_upgrade_create"}))
	gov, err := ratelimit.New(st, ratelimit.DefaultLimits(), 1, 0.2)
	require.NoError(t, err)
	wait, err := gov.Take(ctx, partnercenter.OpProductUpgradeCreate, "", ratelimit.Work)
	require.NoError(t, err)
	require.Zero(t, wait)
	require.Equal(t, 5.0, gauge("orchestrator_rate_limit_learned_per_second", map[string]string{"limit": "product_upgrade_create"}), "300 a minute, nothing learned")
	require.NoError(t, gov.Throttled(ctx, partnercenter.OpProductUpgradeCreate, "", time.Second))
	require.InDelta(t, 5*ratelimit.Decrease, gauge("orchestrator_rate_limit_learned_per_second", map[string]string{"limit": "product_upgrade_create"}), 1e-9)

	// A paused batch leaves orchestrator_items.
	_, err = st.SetBatchStatus(ctx, b.ID, upgrade.BatchPaused, "test")
	require.NoError(t, err)
	require.Equal(t, -1.0, items("pending"))
	require.Equal(t, 1.0, gauge("orchestrator_batches", map[string]string{"status": "paused"}))
	require.Equal(t, 0.0, gauge("orchestrator_batches", map[string]string{"status": "running"}))

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestSlowSnapshotsAreSpacedOut(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Second, refreshEvery(10*time.Second, 50*time.Millisecond), "a quick query keeps the TTL")
	require.Equal(t, 20*time.Second, refreshEvery(10*time.Second, 2*time.Second), "a slow one takes at most a tenth of the time")
}
