package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// world is the real service wired in-process (River workers, the Partner
// Center client, PostgreSQL) against the simulator over real HTTP.
type world struct {
	t    *testing.T
	sim  *simulator.Simulator
	st   *store.Store
	ctl  *control.Controller
	enq  *jobs.Enqueuer
	cfg  config.Config
	db   *pgxpool.Pool
	stop func()

	// addr is where the service serves HTTP (/metrics, /api/v1).
	addr string
}

// fastConfig returns a configuration with short polls and quick repair.
func fastConfig(dbURL, simURL string) config.Config {
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.PartnerCenter.BaseURL = simURL
	cfg.PartnerCenter.TokenURL = simURL + "/partner-tenant/oauth2/v2.0/token"
	cfg.PartnerCenter.TenantID = "partner-tenant"
	cfg.PartnerCenter.ClientID = "jobs-test-client"
	cfg.PartnerCenter.ClientSecret = "jobs-test-secret"
	cfg.PartnerCenter.RefreshToken = "jobs-test-refresh-token"
	cfg.PartnerCenter.Timeout = 5 * time.Second
	cfg.Workers.MaxWorkers = 10
	cfg.DatabaseMaxConns = 8
	cfg.Workers.JobTimeout = 10 * time.Second
	cfg.Workers.RescueStuckJobsAfter = 15 * time.Second
	cfg.Workers.ShutdownTimeout = 5 * time.Second
	cfg.Workers.RetryBase = 100 * time.Millisecond
	cfg.Workers.RetryMax = time.Second
	cfg.Workers.AuthPause = 2 * time.Second
	cfg.Polling.InitialInterval = 100 * time.Millisecond
	cfg.Polling.MaxInterval = 400 * time.Millisecond
	cfg.Reconcile.Interval = time.Second
	cfg.Workers.DispatchInterval = 200 * time.Millisecond
	cfg.Reconcile.StallAfter = 2 * time.Second
	cfg.Halt.FailureRate = 0
	for name, l := range cfg.RateLimits.Limits {
		l.Calls = 100000 // the simulator has no limits here
		cfg.RateLimits.Limits[name] = l
	}
	return cfg
}

// newWorld starts the simulator and the service; tune may change the
// configuration first, and svcOpts how the service is wired.
func newWorld(t *testing.T, opts simulator.Options, tune func(*config.Config), svcOpts ...service.Option) *world {
	t.Helper()
	sim, err := simulator.New(opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	cfg := fastConfig(storetest.NewDatabase(t), srv.URL)
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := service.Connect(ctx, cfg.DatabaseURL, int32(cfg.DatabaseMaxConns))
	require.NoError(t, err)
	logger := slog.New(slog.NewJSONHandler(testLogWriter(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := service.New(ctx, cfg, pool, logger, "test", svcOpts...)
	require.NoError(t, err)
	ins, err := service.InsertClient(pool, logger)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, ln) }()
	w := &world{t: t, sim: sim, st: svc.Store(), enq: jobs.NewEnqueuer(ins), cfg: cfg, db: pool, addr: ln.Addr().String()}
	w.ctl = control.New(w.st, w.enq, "test")
	w.stop = func() {
		cancel()
		require.NoError(t, <-done)
		pool.Close()
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			w.stop()
		}
	})
	return w
}

// importCSV imports rows (header first) as batch name.
func (w *world) importCSV(name string, opts importer.Options, lines ...string) store.Batch {
	w.t.Helper()
	b, err := importer.Import(context.Background(), w.st, name, name+".csv", strings.NewReader(strings.Join(lines, "\n")+"\n"), opts)
	require.NoError(w.t, err)
	return b
}

// waitFor polls the batch until cond holds, failing after timeout.
func (w *world) waitFor(b store.Batch, timeout time.Duration, what string, cond func(store.Batch, map[upgrade.Status]int) bool) map[upgrade.Status]int {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		cur, err := w.st.BatchByName(context.Background(), b.Name)
		require.NoError(w.t, err)
		counts, err := w.st.StatusCounts(context.Background(), b.ID)
		require.NoError(w.t, err)
		if cond(cur, counts) {
			return counts
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("batch %s: %s not reached after %s: status %s, counts %v", b.Name, what, timeout, cur.Status, counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStatus waits until the batch has status s.
func (w *world) waitStatus(b store.Batch, s upgrade.BatchStatus, timeout time.Duration) map[upgrade.Status]int {
	w.t.Helper()
	return w.waitFor(b, timeout, "status "+string(s), func(cur store.Batch, _ map[upgrade.Status]int) bool { return cur.Status == s })
}

// rows returns the batch's report rows.
func (w *world) rows(b store.Batch) []store.ReportRow {
	w.t.Helper()
	var rows []store.ReportRow
	require.NoError(w.t, w.st.ReportRows(context.Background(), b.ID, func(r store.ReportRow) error {
		rows = append(rows, r)
		return nil
	}))
	return rows
}

// byCustomer groups report rows by customer (and subscription).
func byCustomer(rows []store.ReportRow) map[string][]store.ReportRow {
	out := map[string][]store.ReportRow{}
	for _, r := range rows {
		k := r.CustomerID
		if r.SubscriptionID != "" {
			k += "/" + r.SubscriptionID
		}
		out[k] = append(out[k], r)
	}
	return out
}

// guids returns n deterministic customer or subscription ids.
func guids(n int, seed string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%s/%d", seed, i)).String()
	}
	return out
}

// outside returns a Partner Center client of "someone else" (a console
// tool, the Partner Center UI) working on the same tenant.
func (w *world) outside() *partnercenter.Client {
	w.t.Helper()
	httpClient, err := partnercenter.NewHTTPClient(context.Background(), partnercenter.Credentials{
		TenantID: "partner-tenant", ClientID: "outside-tool", ClientSecret: "outside-secret",
		RefreshToken: "outside-refresh-token", TokenURL: w.cfg.PartnerCenter.TokenURL,
	}, &http.Client{Timeout: 5 * time.Second})
	require.NoError(w.t, err)
	c, err := partnercenter.NewClient(httpClient, partnercenter.WithBaseURL(w.cfg.PartnerCenter.BaseURL))
	require.NoError(w.t, err)
	return c
}

// callCount counts the batch's Partner Center calls.
func (w *world) callCount(b store.Batch) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.QueryRow(context.Background(), `select count(*) from api_calls where batch_id = $1`, b.ID).Scan(&n))
	return n
}

// testLogWriter is where the in-process service logs: stderr when
// JOBS_TEST_LOGS is set, nowhere otherwise.
func testLogWriter() io.Writer {
	if os.Getenv("JOBS_TEST_LOGS") != "" {
		return os.Stderr
	}
	return io.Discard
}
