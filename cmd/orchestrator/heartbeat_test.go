package main

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// heartbeatConfig leaves River's rescuer (1h) and reconcile's stall_after
// (15m) far out of reach and keeps workers.dead_after at its default, 30s:
// only the heartbeat can bring a killed replica's jobs back within the
// test's minute.
const heartbeatConfig = noRateLimits + `
database_max_conns: 10
workers:
  max_workers: 30
  max_attempts: 25
  job_timeout: 20s
  rescue_stuck_jobs_after: 1h
  shutdown_timeout: 5s
  retry_base: 100ms
  retry_max: 1s
polling:
  initial_interval: 300ms
  max_interval: 1s
reconcile:
  interval: 1s
  stall_after: 15m
halt:
  failure_rate: 0
partner_center:
  timeout: 5s
log:
  level: info
`

// inFlight is an item whose job was running in the killed replica.
type inFlight struct {
	item     int64
	customer string
	kind     string
}

// victimJobs returns the items whose River job is running in the process
// named worker, with the item still open (a settled item needs no call).
func victimJobs(ctx context.Context, t *testing.T, conn *pgx.Conn, worker string) []inFlight {
	t.Helper()
	rows, err := conn.Query(ctx, `
		select i.id, i.customer_id::text, j.kind
		from river_job j join batch_items i on i.id = (j.args->>'item_id')::bigint
		where j.state = 'running' and j.attempted_by[cardinality(j.attempted_by)] = $1
		  and i.status in ('pending', 'in_progress')
		order by i.id`, worker)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (inFlight, error) {
		var f inFlight
		err := r.Scan(&f.item, &f.customer, &f.kind)
		return f, err
	})
	require.NoError(t, err)
	return got
}

// Three replicas share a batch; one is killed with SIGKILL while it runs
// jobs. A surviving replica declares it dead after workers.dead_after
// (30s) and hands its jobs back, so each of its in-flight items makes its
// next Partner Center call within 60s of the kill, without River's rescuer
// or reconcile; no item's calls ever overlap at the simulator (one process
// at a time per item), and the batch ends exactly once.
func TestKilledReplicaWorkIsBackWithinAMinute(t *testing.T) {
	t.Parallel()
	opts := faultySimulator()
	f := opts.Faults["*"]
	// Calls take a while, so the replica killed has some in flight.
	f.Latency.Min, f.Latency.Max = 200*time.Millisecond, 800*time.Millisecond
	opts.Faults["*"] = f
	e := newE2E(t, opts, heartbeatConfig)
	path, ids := writeCustomers(t, 600)

	cmds := make([]*osProcess, 3)
	for i := range cmds {
		c, l := e.serve()
		cmds[i] = &osProcess{cmd: c, logs: l}
	}
	for _, p := range cmds {
		e.addr(p.logs)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range cmds {
				t.Logf("serve process %d logged (warnings and errors):", i)
				for _, line := range strings.Split(p.logs.String(), "\n") {
					if !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
						t.Log(line)
					}
				}
			}
		}
	})

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	victim := cmds[0]
	var victimID string
	require.NoError(t, conn.QueryRow(ctx, `select id from processes where pid = $1 and dead_at is null`, victim.cmd.Process.Pid).Scan(&victimID))

	e.mustRun("import", "--batch", "heartbeat", path)

	// Mid-batch: once some items are settled and the victim runs jobs of
	// at least 3 open items, kill it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var settled int
		require.NoError(t, conn.QueryRow(ctx, `select count(*) from batch_items where status not in ('pending', 'in_progress')`).Scan(&settled))
		if settled >= 30 && len(victimJobs(ctx, t, conn, victimID)) >= 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the victim never had 3 jobs running mid-batch")
		time.Sleep(20 * time.Millisecond)
	}
	killedAt := time.Now()
	require.NoError(t, victim.cmd.Process.Kill())
	_ = victim.cmd.Wait()
	e.sim.Mark()
	items := victimJobs(ctx, t, conn, victimID)
	require.NotEmpty(t, items)
	t.Logf("killed %s with %d open items in flight: %v", victimID, len(items), items)

	// Every in-flight item makes a call again within 60 s of the kill.
	waiting := map[string]inFlight{}
	for _, it := range items {
		waiting[strings.ToLower(it.customer)] = it
	}
	var delays []time.Duration
	for len(waiting) > 0 {
		first := e.sim.Stats().FirstCallsAfterMark
		for c := range waiting {
			if at, ok := first[c]; ok {
				delays = append(delays, at.Sub(killedAt))
				delete(waiting, c)
			}
		}
		if time.Since(killedAt) > 60*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Empty(t, waiting, "items of the killed replica with no call within 60 s of the kill")
	slices.Sort(delays)
	t.Logf("kill -9 to each in-flight item's next call: min %s, median %s, max %s (%d items)",
		delays[0].Round(time.Millisecond), delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond), len(delays))
	require.LessOrEqual(t, delays[len(delays)-1], 60*time.Second)

	// A survivor declared the victim dead and handed its jobs back.
	var declaredBy string
	var handedBack int
	require.NoError(t, conn.QueryRow(ctx, `
		select declared_by, jobs_handed_back from processes where id = $1 and dead_at is not null`, victimID).Scan(&declaredBy, &handedBack))
	require.NotEqual(t, victimID, declaredBy)
	require.GreaterOrEqual(t, handedBack, len(items))

	e.waitDone("heartbeat", 5*time.Minute)
	e.assertExactlyOnce("heartbeat", ids)
	st := e.sim.Stats()
	require.Equal(t, 1, st.MaxConcurrentPerItem, "no item's calls overlapped: %v", st.ConcurrentItems)

	var rescued int
	require.NoError(t, conn.QueryRow(ctx, `
		select count(*) from river_job where metadata ? 'handed_back_from'`).Scan(&rescued))
	require.GreaterOrEqual(t, rescued, len(items), "the jobs came back through the handback")
	t.Logf("%s declared the victim dead and handed back %d jobs", declaredBy, handedBack)
}

// osProcess is a serve process and its log.
type osProcess struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}
