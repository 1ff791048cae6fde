package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// outageConfig is the service at 1/6 of its real pace: with
// workers.max_attempts 3 and retries 100ms..1s apart, every attempt of an
// item would be spent in about two seconds, far within the outages below.
const outageConfig = noRateLimits + `
database_max_conns: 8
workers:
  max_workers: 10
  max_attempts: 3
  job_timeout: 10s
  rescue_stuck_jobs_after: 12s
  shutdown_timeout: 5s
  retry_base: 100ms
  retry_max: 1s
polling:
  initial_interval: 300ms
  max_interval: 1s
reconcile:
  interval: 1s
  stall_after: 5s
outage:
  after_failures: 3
  probe_interval: 500ms
  probe_max: 2s
  alert_after: 5s
partner_center:
  timeout: 3s
log:
  level: info
`

// transportFailures counts the items of batch that failed without an
// answer from Partner Center.
func (e *e2e) transportFailures(batch string) int {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(e.t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(e.t, conn.QueryRow(ctx, `
		select count(*) from batch_items i join batches b on b.id = i.batch_id
		where b.name = $1 and i.status in ('failed', 'ineligible')
		  and (i.error_code in ('transport', 'decode', 'max_attempts') or i.error_code like 'token%' or i.error_code like 'http_5%')`,
		batch).Scan(&n))
	return n
}

// outageHold returns the outage hold shown by status, if any.
func (e *e2e) outageHold(batch string) (report.Hold, report.Status, bool) {
	e.t.Helper()
	var st report.Status
	out := e.mustRun("status", "--batch", batch, "--json")
	require.NoError(e.t, json.Unmarshal([]byte(out), &st), out)
	for _, h := range st.Holds {
		if h.Outage {
			return h, st, true
		}
	}
	return report.Hold{}, st, false
}

// TestOutageLongerThanEveryAttemptDecidesNothing takes Partner Center away
// (every request reset, token endpoint included) for two minutes at the
// test's 1/6 pace while upgrades are in progress.
func TestOutageLongerThanEveryAttemptDecidesNothing(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 2*time.Second, 6*time.Second
	e := newE2E(t, opts, outageConfig)
	path, ids := writeCustomers(t, 40)
	e.mustRun("import", "--batch", "outage", path)
	_, logs := e.serve()
	addr := e.addr(logs)

	deadline := time.Now().Add(time.Minute)
	for {
		st := e.state("outage")
		if st.Counts["in_progress"] >= 10 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no upgrades in progress: %v", st.Counts)
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, e.sim.StartOutage(simulator.Outage{Scope: simulator.OutageAll, Answer: simulator.AnswerReset}))
	start := time.Now()

	// The hold is placed, shown, and counted in the metrics.
	var hold report.Hold
	require.Eventually(t, func() bool {
		var held bool
		hold, _, held = e.outageHold("outage")
		return held
	}, 15*time.Second, 200*time.Millisecond, "no outage hold shown")
	require.Contains(t, hold.Reason, "no answer")
	text := e.mustRun("status", "--batch", "outage")
	require.Contains(t, text, "Partner Center unavailable since")
	require.Eventually(t, func() bool {
		_, body := get(t, "http://"+addr+"/metrics")
		return sample(t, body, "orchestrator_work_paused", map[string]string{"reason": "outage"}) == 1
	}, 15*time.Second, 500*time.Millisecond, "orchestrator_work_paused{reason=\"outage\"} is not 1")

	time.Sleep(time.Until(start.Add(20 * time.Second)))
	mid := e.state("outage")
	require.Zero(t, mid.Counts["failed"], "no item failed during the outage: %v", mid.Counts)
	probes := e.sim.Stats().Totals.OutageRequests
	e.sim.EndOutage()

	st := e.waitDone("outage", 2*time.Minute)
	require.Zero(t, e.transportFailures("outage"), "no item decided by the outage")
	e.assertExactlyOnce("outage", ids)
	_, st, held := e.outageHold("outage")
	require.False(t, held, "hold lifted: %+v", st.Holds)
	require.Contains(t, logs.String(), "outage hold lifted")
	// Waiting under the hold is one probe at a time, not every job retrying:
	// far fewer calls than 40 items retrying every second for 20 seconds.
	require.Less(t, probes, 200, "calls during the outage")
	t.Logf("outage: %d calls answered by the outage; final %v", probes, st.Counts)
}

// TestTokenEndpointOutageFailsNoItem makes the token endpoint throttle and
// then fail for a minute at the test's pace, with access tokens that
// expire every few seconds so that every job needs the token endpoint.
func TestTokenEndpointOutageFailsNoItem(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = time.Second, 4*time.Second
	opts.TokenTTL = 2 * time.Second
	e := newE2E(t, opts, outageConfig)
	path, ids := writeCustomers(t, 30)
	e.mustRun("import", "--batch", "token-outage", path)
	require.NoError(t, e.sim.StartOutage(simulator.Outage{Scope: simulator.OutageToken, Answer: simulator.Answer429, RetryAfter: 2 * time.Second}))
	e.serve()

	require.Eventually(t, func() bool {
		_, _, held := e.outageHold("token-outage")
		return held
	}, 20*time.Second, 200*time.Millisecond, "no hold for the throttled token endpoint")
	time.Sleep(5 * time.Second)
	require.NoError(t, e.sim.StartOutage(simulator.Outage{Scope: simulator.OutageToken, Answer: simulator.Answer503}))
	time.Sleep(5 * time.Second)
	mid := e.state("token-outage")
	require.Zero(t, mid.Counts["failed"]+mid.Counts["ineligible"], "nothing decided without a token: %v", mid.Counts)
	e.sim.EndOutage()

	e.waitDone("token-outage", 2*time.Minute)
	require.Zero(t, e.transportFailures("token-outage"))
	e.assertExactlyOnce("token-outage", ids)
	require.Positive(t, e.sim.Stats().Totals.OutageRequests)
}
