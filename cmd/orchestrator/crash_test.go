package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// crashConfig keeps lost jobs short-lived: a job of a killed process is
// rescued after 12s and its item lease lapses after 15s.
const crashConfig = noRateLimits + `
database_max_conns: 10
workers:
  max_workers: 30
  max_attempts: 25
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
  stall_after: 3s
halt:
  failure_rate: 0
partner_center:
  timeout: 5s
log:
  level: warn
`

// faultySimulator fails, resets, truncates and delays a share of every
// Partner Center call, including after the work was done.
func faultySimulator() simulator.Options {
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = time.Second, 3*time.Second
	opts.Faults = map[string]simulator.Fault{"*": {
		Share500: 0.03, Share503: 0.03, ResetShare: 0.02, ResetAfterWorkShare: 0.03, MalformedShare: 0.02,
		Latency: simulator.LatencySpec{Min: 2 * time.Millisecond, Max: 40 * time.Millisecond},
	}}
	return opts
}

func writeCustomers(t *testing.T, n int) (string, []string) {
	t.Helper()
	ids := make([]string, n)
	var b strings.Builder
	b.WriteString("customer_id\n")
	for i := range ids {
		ids[i] = uuid.NewString()
		fmt.Fprintln(&b, ids[i])
	}
	path := filepath.Join(t.TempDir(), "customers.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path, ids
}

// assertExactlyOnce checks the batch against the simulator's ground truth:
// nothing created twice, every customer in its predicted final state, every
// line item recorded, and no item started twice.
func (e *e2e) assertExactlyOnce(batch string, ids []string) {
	t := e.t
	t.Helper()
	stats := e.sim.Stats()
	require.Empty(t, stats.Duplicates, "nothing created twice")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		select i.customer_id::text, i.status, count(l.id)
		from batch_items i join batches b on b.id = i.batch_id
		left join line_items l on l.item_id = i.id and l.generation = i.generation
		where b.name = $1 group by i.customer_id, i.status`, batch)
	require.NoError(t, err)
	type result struct {
		status string
		lines  int
	}
	got := map[string]result{}
	for rows.Next() {
		var c string
		var r result
		require.NoError(t, rows.Scan(&c, &r.status, &r.lines))
		got[c] = r
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(ids))
	for _, id := range ids {
		p := e.sim.Predict(id)
		want := result{status: "completed", lines: len(p.LineItems)}
		switch {
		case !p.Eligible:
			want = result{status: "ineligible"}
		case p.Fails:
			want.status = "failed"
		}
		require.Equal(t, want, got[id], "customer %s", id)
		if p.Eligible {
			require.Equal(t, 1, e.sim.CreatedCount(id), "customer %s upgraded once", id)
		}
	}

	var twice int
	require.NoError(t, conn.QueryRow(ctx, `
		select count(*) from (
		    select item_id from item_events
		    where from_status = 'pending' and to_status = 'in_progress'
		    group by item_id, generation having count(*) > 1) x`).Scan(&twice))
	require.Zero(t, twice, "no item started twice")
}

func TestCrashAtRandomMomentsLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	e := newE2E(t, faultySimulator(), crashConfig)
	path, ids := writeCustomers(t, 1000)
	e.mustRun("import", "--batch", "crash", path)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)) //nolint:gosec // test timing
	kills := 0
	for kills < 12 {
		proc, _ := e.serve()
		time.Sleep(time.Duration(1500+rng.IntN(3500)) * time.Millisecond)
		require.NoError(t, proc.Process.Signal(syscall.SIGKILL))
		_ = proc.Wait()
		kills++
	}
	creates := e.sim.Stats().Totals.Creates
	t.Logf("%d kills; %d upgrades created before the last restart", kills, creates)
	require.Positive(t, creates, "work happened between the kills")

	e.serve()
	st := e.waitDone("crash", 6*time.Minute)
	require.Equal(t, 1000, st.Total)
	e.assertExactlyOnce("crash", ids)
	stats := e.sim.Stats()
	t.Logf("faults: %d 5xx, %d resets, %d malformed", stats.Totals.ServerErrors, stats.Totals.Resets, stats.Totals.Malformed)
	require.Positive(t, stats.Totals.Resets)
}

func TestThreeReplicasShareTheWork(t *testing.T) {
	t.Parallel()
	opts := faultySimulator()
	// At level info serve logs its address once it works.
	e := newE2E(t, opts, strings.Replace(crashConfig, "level: warn", "level: info", 1))
	path, ids := writeCustomers(t, 400)
	// All three serve before the batch arrives, so none misses the start
	// because it was slower to come up.
	var logs []*syncBuffer
	for range 3 {
		_, l := e.serve()
		logs = append(logs, l)
	}
	for _, l := range logs {
		e.addr(l)
	}
	e.mustRun("import", "--batch", "replicas", path)
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range logs {
				t.Logf("serve process %d logged (warnings and errors):", i)
				for _, line := range strings.Split(l.String(), "\n") {
					if !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
						t.Log(line)
					}
				}
			}
		}
	})
	e.waitDone("replicas", 5*time.Minute)
	e.assertExactlyOnce("replicas", ids)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		select worker, count(*), min(created_at), max(created_at)
		from api_calls group by worker order by min(created_at)`)
	require.NoError(t, err)
	shares := map[string]int{}
	total := 0
	for rows.Next() {
		var w string
		var n int
		var first, last time.Time
		require.NoError(t, rows.Scan(&w, &n, &first, &last))
		shares[w], total = n, total+n
		t.Logf("process %s: %d calls from %s to %s", w, n, first.Format("15:04:05.000"), last.Format("15:04:05.000"))
	}
	require.NoError(t, rows.Err())
	require.Len(t, shares, 3, "three processes made calls: %v", shares)
	for w, n := range shares {
		require.Greater(t, float64(n)/float64(total), 0.1, "process %s did a share of the work: %v", w, shares)
	}
	t.Logf("calls per process: %v", shares)
}
