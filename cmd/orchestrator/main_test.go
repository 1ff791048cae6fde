package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// binary is the orchestrator built once for all end-to-end tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orchestrator")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "build: %s", out)
	return bin
}

type e2e struct {
	t      *testing.T
	dbURL  string
	bin    string
	env    []string
	config string
	simURL string
	sim    *simulator.Simulator
}

func newE2E(t *testing.T, simOpts simulator.Options, configYAML string) *e2e {
	t.Helper()
	return newE2EWrapped(t, simOpts, configYAML, func(h http.Handler) http.Handler { return h })
}

// newE2EWrapped is newE2E with the simulator served through wrap, so a test
// can see or alter its traffic.
func newE2EWrapped(t *testing.T, simOpts simulator.Options, configYAML string, wrap func(http.Handler) http.Handler) *e2e {
	t.Helper()
	sim, err := simulator.New(simOpts)
	require.NoError(t, err)
	srv := httptest.NewServer(wrap(sim))
	t.Cleanup(srv.Close)

	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(configYAML), 0o600))
	dbURL := storetest.NewDatabase(t)
	return &e2e{
		t:      t,
		dbURL:  dbURL,
		bin:    buildBinary(t),
		config: cfgPath,
		sim:    sim,
		simURL: srv.URL,
		env: append(os.Environ(),
			"DATABASE_URL="+dbURL,
			"PARTNER_CENTER_BASE_URL="+srv.URL,
			"PARTNER_CENTER_TOKEN_URL="+srv.URL+"/partner-tenant/oauth2/v2.0/token",
			"PARTNER_CENTER_TENANT_ID=partner-tenant",
			"PARTNER_CENTER_CLIENT_ID=e2e-client",
			"PARTNER_CENTER_CLIENT_SECRET=e2e-client-secret-value",
			"PARTNER_CENTER_REFRESH_TOKEN=e2e-refresh-token-value",
		),
	}
}

func (e *e2e) cmd(args ...string) *exec.Cmd {
	c := exec.Command(e.bin, append([]string{"--config", e.config}, args...)...)
	c.Env = e.env
	return c
}

func (e *e2e) run(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	c := e.cmd(args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func (e *e2e) mustRun(args ...string) string {
	e.t.Helper()
	out, err := e.run(args...)
	require.NoError(e.t, err, "orchestrator %v: %s", args, out)
	return out
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serve starts `orchestrator serve` and returns it and its log.
func (e *e2e) serve() (*exec.Cmd, *syncBuffer) {
	e.t.Helper()
	logs := &syncBuffer{}
	c := e.cmd("serve", "--listen", "127.0.0.1:0")
	c.Stdout, c.Stderr = logs, logs
	require.NoError(e.t, c.Start())
	e.t.Cleanup(func() {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	return c, logs
}

// addr waits for the serve log line naming the HTTP address.
func (e *e2e) addr(logs *syncBuffer) string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" {
				return rec.Addr
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("serve never logged its address:\n%s", logs.String())
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // test
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (e *e2e) waitDone(batch string, timeout time.Duration) report.Status {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st report.Status
		out := e.mustRun("status", "--batch", batch, "--json")
		require.NoError(e.t, json.Unmarshal([]byte(out), &st), out)
		if st.Done {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("batch %s not done after %s: %+v", batch, timeout, st.Counts)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// noRateLimits lifts every Partner Center rate limit out of the way of
// tests that are not about the governor; configs start with it.
const noRateLimits = `
rate_limits:
  limits:
    product_upgrade_eligibility: {calls: 100000, per: 1m, scope: partner}
    product_upgrade_create: {calls: 100000, per: 1m, scope: partner}
    product_upgrade_status: {calls: 100000, per: 1m, scope: partner}
    subscriptions: {calls: 100000, per: 1m, scope: customer}
`

const fastConfig = noRateLimits + `
workers:
  max_workers: 10
  job_timeout: 10s
  rescue_stuck_jobs_after: 12s
  shutdown_timeout: 5s
polling:
  initial_interval: 200ms
  max_interval: 1s
reconcile:
  interval: 1s
  stall_after: 2s
log:
  level: debug
`

func TestEndToEndBatch(t *testing.T) {
	t.Parallel()

	// 50 customers: 6 ineligible, 7 failing, the rest succeed.
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	ineligible, failing, succeeding := ids[:6], ids[6:13], ids[13:]
	opts := simulator.DefaultOptions()
	opts.Seed = 7
	opts.Ineligible, opts.Failing, opts.Succeeding = ineligible, failing, succeeding
	opts.MinDuration, opts.MaxDuration = 500*time.Millisecond, 2*time.Second
	e := newE2E(t, opts, fastConfig)

	e.mustRun("migrate")
	e.mustRun("migrate") // idempotent

	csvPath := filepath.Join(t.TempDir(), "customers.csv")
	var b strings.Builder
	b.WriteString("\ufeffcustomer_id,product_family\r\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%s,Azure\r\n", strings.ToUpper(id))
	}
	require.NoError(t, os.WriteFile(csvPath, []byte(b.String()), 0o600))
	out := e.mustRun("import", "--batch", "e2e", csvPath)
	require.Contains(t, out, "50 customers")

	serve, logs := e.serve()
	base := "http://" + e.addr(logs)
	code, body := get(t, base+"/healthz")
	require.Equal(t, http.StatusOK, code, body)
	code, body = get(t, base+"/readyz")
	require.Equal(t, http.StatusOK, code, body)

	st := e.waitDone("e2e", 2*time.Minute)
	require.Equal(t, "e2e", st.Batch)
	require.Equal(t, 50, st.Total)
	require.Equal(t, map[string]int{
		"pending": 0, "in_progress": 0, "ineligible": 6, "failed": 7, "completed": 37, "cancelled": 0, "eligible": 0,
	}, st.Counts)

	reportCSV := e.mustRun("report", "--batch", "e2e", "--format", "csv")
	records, err := csv.NewReader(strings.NewReader(reportCSV)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, report.HeaderFor(upgrade.ProductUpgrade), records[0])
	col := make(map[string]int)
	for i, h := range records[0] {
		col[h] = i
	}

	// Ground truth: what the simulated Partner Center holds.
	upgrades := make(map[string]simulator.UpgradeRecord)
	for _, u := range e.sim.Upgrades() {
		upgrades[strings.ToLower(u.CustomerID)] = u
	}
	rowsByCustomer := make(map[string][][]string)
	var order []string
	for _, r := range records[1:] {
		c := r[col["customer_id"]]
		if _, seen := rowsByCustomer[c]; !seen {
			order = append(order, c)
		}
		rowsByCustomer[c] = append(rowsByCustomer[c], r)
	}
	require.Equal(t, ids, order, "one block of rows per customer, in file order")

	for _, id := range ids {
		rows := rowsByCustomer[id]
		pred := e.sim.Predict(id)
		require.LessOrEqual(t, e.sim.CreatedCount(id), 1, "customer %s upgraded twice", id)
		switch {
		case slices.Contains(ineligible, id):
			require.Len(t, rows, 1)
			r := rows[0]
			require.Equal(t, "ineligible", r[col["status"]])
			require.Empty(t, r[col["upgrade_id"]])
			require.Equal(t, pred.Reason, r[col["error_message"]])
			require.NotEmpty(t, r[col["error_message"]])
			require.Zero(t, e.sim.CreatedCount(id))
		default:
			u, ok := upgrades[id]
			require.True(t, ok, "no upgrade in Partner Center for %s", id)
			require.Len(t, rows, len(pred.LineItems))
			want := "completed"
			if slices.Contains(failing, id) {
				want = "failed"
			}
			for i, r := range rows {
				li := pred.LineItems[i]
				require.Equal(t, want, r[col["status"]], id)
				require.Equal(t, "Azure", r[col["product_family"]])
				require.Equal(t, u.ID, r[col["upgrade_id"]])
				require.Equal(t, li.Status, r[col["line_item_status"]])
				require.Equal(t, li.SourceID, r[col["source_product_id"]])
				require.Equal(t, li.SourceName, r[col["source_product_name"]])
				require.Equal(t, li.TargetID, r[col["target_product_id"]])
				require.Equal(t, li.TargetName, r[col["target_product_name"]])
				require.Equal(t, li.ErrorCode, r[col["error_code"]])
				require.Equal(t, li.ErrorMessage, r[col["error_message"]])
				require.Equal(t, "false", r[col["attention"]], "nothing completed in part in this world")
				if want == "failed" {
					require.Equal(t, pred.ErrorCode, r[col["item_error_code"]], "the item's own error on every row")
				} else {
					require.Empty(t, r[col["item_error_code"]])
				}
				if strings.EqualFold(li.Status, "completed") {
					_, err := time.Parse(time.RFC3339Nano, r[col["upgraded_date"]])
					require.NoError(t, err, "upgraded_date %q", r[col["upgraded_date"]])
				} else {
					require.Empty(t, r[col["upgraded_date"]])
				}
			}
		}
	}

	// Metrics saw the Partner Center calls, by operation and status class.
	code, body = get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `orchestrator_partnercenter_requests_total{operation="product_upgrade_create",status_class="2xx"} 44`)
	require.Contains(t, body, `orchestrator_partnercenter_request_duration_seconds_bucket{operation="product_upgrade_status"`)
	require.Contains(t, body, "orchestrator_build_info{")
	for _, id := range ids {
		require.NotContains(t, body, id, "no customer ids in metric labels")
	}

	// Graceful stop on SIGTERM, and no secret ever reached the logs.
	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	require.NoError(t, serve.Wait())
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var ledger string
	require.NoError(t, conn.QueryRow(ctx, `select concat(
		(select string_agg(t::text, ',') from api_calls t),
		(select string_agg(t::text, ',') from batch_items t),
		(select string_agg(t::text, ',') from item_events t),
		(select string_agg(t::text, ',') from batches t))`).Scan(&ledger))
	require.Contains(t, ledger, "product_upgrade_create", "the ledger was read")
	for _, secret := range []string{"e2e-client-secret-value", "e2e-refresh-token-value"} {
		require.NotContains(t, logs.String(), secret)
		require.NotContains(t, ledger, secret)
	}
	require.Contains(t, logs.String(), "ms_request_id")
}

func TestImportRefusesABadFileWhole(t *testing.T) {
	t.Parallel()
	e := newE2E(t, simulator.DefaultOptions(), fastConfig)

	csvPath := filepath.Join(t.TempDir(), "bad.csv")
	good := uuid.NewString()
	require.NoError(t, os.WriteFile(csvPath, []byte("customer_id,product_family\n"+
		good+",Azure\n"+
		"12345,Azure\n"+
		good+",Azure\n"), 0o600))
	out, err := e.run("import", "--batch", "bad", csvPath)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	require.NotZero(t, exit.ExitCode())
	require.Contains(t, out, csvPath+`:line 3, column customer_id: "12345" is not a GUID`)
	require.Contains(t, out, csvPath+":line 4, column customer_id: duplicate of line 2")
	require.Contains(t, out, "nothing imported")

	out, err = e.run("status", "--batch", "bad")
	require.Error(t, err)
	require.Contains(t, out, `batch "bad": not found`)
}

func TestDemo(t *testing.T) {
	t.Parallel()
	e := newE2E(t, simulator.DefaultOptions(), fastConfig)

	out := e.mustRun("demo")
	require.Contains(t, out, "imported batch demo-")
	require.Contains(t, out, "state        completed (all items final)")
	require.Contains(t, out, "items        200")
	require.Contains(t, out, "0 customers upgraded more than once")
	require.Contains(t, out, "orchestrator report --batch demo-")
}

func TestCreateRetriedAfterKillDoesNotUpgradeTwice(t *testing.T) {
	t.Parallel()

	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	opts := simulator.DefaultOptions()
	opts.Succeeding = ids
	opts.MinDuration, opts.MaxDuration = 500*time.Millisecond, time.Second
	// Partner Center records the upgrade, then takes 3s to answer: the
	// process is killed while it waits.
	opts.Latency = map[string]time.Duration{"product_upgrade_create": 3 * time.Second}
	e := newE2E(t, opts, fastConfig)

	csvPath := filepath.Join(t.TempDir(), "customers.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("customer_id\n"+strings.Join(ids, "\n")+"\n"), 0o600))
	e.mustRun("import", "--batch", "kill", csvPath)

	first, _ := e.serve()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(e.sim.Upgrades()) == 0 {
		require.NoError(t, ctx.Err(), "no create call reached Partner Center")
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	killedDuring := len(e.sim.Upgrades())

	// The restarted service rescues the job that was running when the process
	// died, retries it, finds the upgrade through eligibility and adopts it.
	e.serve()
	st := e.waitDone("kill", 3*time.Minute)
	require.Equal(t, 3, st.Counts["completed"], st.Counts)
	for _, id := range ids {
		require.Equal(t, 1, e.sim.CreatedCount(id), "customer %s", id)
	}
	require.Len(t, e.sim.Upgrades(), 3)
	require.Positive(t, killedDuring)
}

func TestServeWarnsWhenCredentialsAreAppOnly(t *testing.T) {
	t.Parallel()
	e := newE2E(t, simulator.DefaultOptions(), fastConfig)
	e.env = slices.DeleteFunc(e.env, func(kv string) bool { return strings.HasPrefix(kv, "PARTNER_CENTER_REFRESH_TOKEN=") })

	serve, logs := e.serve()
	e.addr(logs)
	require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
	require.NoError(t, serve.Wait())
	require.Contains(t, logs.String(), "403/900329")
	require.Contains(t, logs.String(), "app-only")
}

func TestRotatedRefreshTokenIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 200*time.Millisecond, 500*time.Millisecond
	e := newE2E(t, opts, fastConfig)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	e.env = append(e.env, "PARTNER_CENTER_TOKEN_ENCRYPTION_KEY="+key)

	runBatch := func(name string) {
		csvPath := filepath.Join(t.TempDir(), name+".csv")
		require.NoError(t, os.WriteFile(csvPath, []byte("customer_id\n"+uuid.NewString()+"\n"), 0o600))
		e.mustRun("import", "--batch", name, csvPath)
		serve, _ := e.serve()
		e.waitDone(name, time.Minute)
		require.NoError(t, serve.Process.Signal(syscall.SIGTERM))
		require.NoError(t, serve.Wait())
	}

	runBatch("first")  // replica 1 redeems the configured token and stores the rotated one
	runBatch("second") // replica 2 starts with the same configuration

	rot := e.sim.RefreshRotations()
	require.Len(t, rot, 2)
	require.Equal(t, "e2e-refresh-token-value", rot[0].Presented)
	require.Equal(t, rot[0].Issued, rot[1].Presented, "replica 2 used the token replica 1 was given")
	require.False(t, rot[1].Stale)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var stored []byte
	require.NoError(t, conn.QueryRow(ctx, `select ciphertext from secrets`).Scan(&stored))
	require.False(t, bytes.Contains(stored, []byte(rot[1].Issued)), "stored encrypted")
}
