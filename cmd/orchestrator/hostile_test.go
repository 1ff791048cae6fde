package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// hostileScenario is examples/scenarios/hostile.yaml with lifecycles
// shortened so the batch finishes in CI time: failures, ineligibility,
// the documented (or assumed) 429 limits, 5xx, resets before and after the
// work, truncated bodies and token endpoint errors.
func hostileScenario(t *testing.T) simulator.Options {
	t.Helper()
	b, err := os.ReadFile("../../examples/scenarios/hostile.yaml")
	require.NoError(t, err)
	opts, err := simulator.ParseScenario(b)
	require.NoError(t, err)
	opts.MinDuration, opts.MaxDuration = time.Second, 3*time.Second
	// 300 customers never reach 300 calls a minute (the assumed default for
	// product upgrades), so the buckets are scaled down to make Partner
	// Center throttle the batch for real: bursts of 60, then 6 calls a second.
	for _, op := range []string{simulator.OpProductUpgradeEligibility, simulator.OpProductUpgradeCreate, simulator.OpProductUpgradeStatus} {
		rl := opts.RateLimits[op]
		rl.Limit, rl.Per = 60, 10*time.Second
		opts.RateLimits[op] = rl
	}
	return opts
}

// hostileConfig lets the service believe in limits twice as generous as
// the simulator's (60 per 10s), so Partner Center's 429s, not the
// governor, do the throttling: each pauses the shared bucket.
const hostileConfig = `
rate_limits:
  limits:
    product_upgrade_eligibility: {calls: 720, per: 1m, scope: partner}
    product_upgrade_create: {calls: 720, per: 1m, scope: partner}
    product_upgrade_status: {calls: 720, per: 1m, scope: partner}
    subscriptions: {calls: 100000, per: 1m, scope: customer}
workers:
  max_workers: 20
  max_attempts: 25
  job_timeout: 20s
  rescue_stuck_jobs_after: 25s
  shutdown_timeout: 5s
  retry_base: 200ms
  retry_max: 3s
polling:
  initial_interval: 1s
  max_interval: 4s
reconcile:
  interval: 1s
  stall_after: 30s
partner_center:
  timeout: 10s
log:
  level: warn
`

func TestHostileScenarioEndToEnd(t *testing.T) {
	t.Parallel()

	opts := hostileScenario(t)
	e := newE2E(t, opts, hostileConfig)

	const n = 300
	ids := make([]string, n)
	var b strings.Builder
	b.WriteString("customer_id,product_family\n")
	for i := range ids {
		ids[i] = uuid.NewString()
		fmt.Fprintf(&b, "%s,Azure\n", ids[i])
	}
	csvPath := filepath.Join(t.TempDir(), "customers.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte(b.String()), 0o600))
	e.mustRun("import", "--batch", "hostile", csvPath)

	e.serve()
	st := e.waitDone("hostile", 8*time.Minute)
	require.Equal(t, n, st.Total)

	// Ground truth from the simulator, over HTTP as an operator would read it.
	code, body := get(t, e.simURL+"/_sim/stats")
	require.Equal(t, 200, code)
	var stats simulator.Stats
	require.NoError(t, json.Unmarshal([]byte(body), &stats))
	require.Empty(t, stats.Duplicates, "nothing created twice")
	require.Zero(t, stats.RetryAfterViolations, "no request before Retry-After")
	require.Positive(t, stats.Totals.ServerErrors, "the scenario injected 5xx")
	require.Positive(t, stats.Totals.Resets, "the scenario reset connections")
	require.Positive(t, stats.Totals.RateLimited, "the scenario throttled the batch")

	reportCSV := e.mustRun("report", "--batch", "hostile", "--format", "csv")
	records, err := csv.NewReader(strings.NewReader(reportCSV)).ReadAll()
	require.NoError(t, err)
	statusByCustomer := make(map[string]string)
	for _, r := range records[1:] {
		statusByCustomer[r[0]] = r[2]
	}
	require.Len(t, statusByCustomer, n, "every customer is in the report")
	for _, id := range ids {
		pred := e.sim.Predict(id)
		want := "completed"
		switch {
		case !pred.Eligible:
			want = "ineligible"
		case pred.Fails:
			want = "failed"
		}
		require.Equal(t, want, statusByCustomer[id], "customer %s (%+v)", id, pred)
	}
	t.Logf("stats: totals %+v, peak concurrency %d, 429s %d", stats.Totals, stats.PeakConcurrency, stats.Totals.RateLimited)
}

func TestSimulateCommandServesAScenario(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd := exec.Command(bin, "simulate", "--listen", addr, "--scenario", "../../examples/scenarios/hostile.yaml", "--seed", "9")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var code int
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/_sim/stats") //nolint:noctx // test
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		code, body = resp.StatusCode, string(b)
		return true
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusOK, code)
	var stats simulator.Stats
	require.NoError(t, json.Unmarshal([]byte(body), &stats))

	// Without credentials the API answers 401 with WWW-Authenticate.
	resp, err := http.Post("http://"+addr+"/v1/productUpgrades/eligibility", "application/json", //nolint:noctx // test
		strings.NewReader(`{"customerId":"c1958bc7-3284-4952-a257-de594ee64743","productFamily":"Azure"}`))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "invalid_token")

	out, err := exec.Command(bin, "simulate", "--scenario", "/nonexistent.yaml").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "nonexistent.yaml")
}
