// Package demo runs the orchestrator's main job end to end on the built-in
// Partner Center simulator: a rehearsal that needs nothing but PostgreSQL.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/examples"
	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// LocalServerURL is the PostgreSQL server used when no DATABASE_URL is given;
// the demo creates its own database there.
const LocalServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// databaseName is the database the demo creates on the local server.
const databaseName = "orchestrator_demo"

// Options configure a demo run.
type Options struct {
	DatabaseURL string // empty: create orchestrator_demo on LocalServerURL
	Stdout      io.Writer
	Logger      *slog.Logger
	Version     string
	Timeout     time.Duration // give up after this long (default 5m)
}

// Run starts the simulator in-process on a free port, migrates, imports the
// 200-customer example, runs the workers until every customer is final and
// prints a summary and how to get the report.
func Run(ctx context.Context, o Options) error {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	out := o.Stdout
	simOpts := simulator.DefaultOptions()
	simOpts.MinDuration, simOpts.MaxDuration = 3*time.Second, 12*time.Second
	sim, err := simulator.New(simOpts)
	if err != nil {
		return err
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	simCtx, stopSim := context.WithCancel(ctx)
	simDone := make(chan error, 1)
	go func() { simDone <- simulator.Serve(simCtx, simLn, sim, o.Logger) }()
	defer func() { stopSim(); <-simDone }()
	simURL := "http://" + simLn.Addr().String()
	fmt.Fprintf(out, "Partner Center simulator on %s\n", simURL)

	dbURL := o.DatabaseURL
	if dbURL == "" {
		if dbURL, err = ensureLocalDatabase(ctx); err != nil {
			return err
		}
	}
	cfg := config.Default()
	cfg.DatabaseURL = dbURL
	cfg.PartnerCenter.BaseURL = simURL
	cfg.PartnerCenter.TokenURL = simURL + "/demo-tenant/oauth2/v2.0/token"
	cfg.PartnerCenter.TenantID = "demo-tenant"
	cfg.PartnerCenter.ClientID = "demo-client"
	cfg.PartnerCenter.ClientSecret = "demo-client-secret"
	cfg.PartnerCenter.RefreshToken = "demo-refresh-token"
	cfg.Polling.InitialInterval, cfg.Polling.MaxInterval = time.Second, 4*time.Second
	cfg.Reconcile.Interval = 2 * time.Second
	if err := cfg.Validate(); err != nil {
		return err
	}

	pool, err := service.Connect(ctx, dbURL, int32(cfg.DatabaseMaxConns))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	fmt.Fprintf(out, "database %s migrated\n", redact(dbURL))

	svc, err := service.New(ctx, cfg, pool, o.Logger, o.Version)
	if err != nil {
		return err
	}
	f, err := examples.FS.Open(examples.ProductUpgradeCSV)
	if err != nil {
		return err
	}
	name := "demo-" + time.Now().UTC().Format("20060102-150405")
	batch, err := importer.Import(ctx, svc.Store(), name, "examples/"+examples.ProductUpgradeCSV, f, importer.Options{})
	_ = f.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "imported batch %s: %d customers\n", batch.Name, batch.ItemCount)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- svc.Run(runCtx, ln) }()
	fmt.Fprintf(out, "workers running; metrics on http://%s/metrics\n", ln.Addr())

	st, err := waitForBatch(ctx, svc.Store(), batch, o.Timeout, out, runErr)
	stop()
	if rerr := <-runErr; rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}

	fmt.Fprintln(out)
	if err := st.WriteTable(out); err != nil {
		return err
	}
	doubled := 0
	for _, u := range sim.Upgrades() {
		if sim.CreatedCount(u.CustomerID) > 1 {
			doubled++
		}
	}
	fmt.Fprintf(out, "\nPartner Center simulator: %d upgrades created, %d customers upgraded more than once\n", len(sim.Upgrades()), doubled)
	fmt.Fprintf(out, "\nReport per customer and line item:\n  DATABASE_URL='%s' orchestrator report --batch %s --format csv\n", dbURL, batch.Name)
	return nil
}

func waitForBatch(ctx context.Context, st *store.Store, b store.Batch, timeout time.Duration, out io.Writer, runErr <-chan error) (report.Status, error) {
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastPrint := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return report.Status{}, ctx.Err()
		case err := <-runErr:
			return report.Status{}, fmt.Errorf("workers stopped early: %v", err)
		case <-deadline:
			return report.Status{}, fmt.Errorf("batch %s not done after %s", b.Name, timeout)
		case <-tick.C:
		}
		cur, err := st.BatchByName(ctx, b.Name)
		if err != nil {
			return report.Status{}, err
		}
		s, err := report.LoadStatus(ctx, st, cur)
		if err != nil {
			return report.Status{}, err
		}
		if time.Since(lastPrint) >= 3*time.Second || cur.Status == upgrade.BatchCompleted {
			fmt.Fprintf(out, "  pending %d  in_progress %d  completed %d  failed %d  ineligible %d\n",
				s.Counts["pending"], s.Counts["in_progress"], s.Counts["completed"], s.Counts["failed"], s.Counts["ineligible"])
			lastPrint = time.Now()
		}
		if cur.Status == upgrade.BatchCompleted {
			return s, nil
		}
	}
}

// ensureLocalDatabase creates the demo database on the local server if it
// does not exist yet and returns its URL.
func ensureLocalDatabase(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, LocalServerURL)
	if err != nil {
		return "", fmt.Errorf("no PostgreSQL at 127.0.0.1:5432 (%w); start it or set DATABASE_URL", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `select exists (select 1 from pg_database where datname = $1)`, databaseName).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "create database "+databaseName); err != nil && !isDuplicateDatabase(err) {
			return "", fmt.Errorf("create database %s: %w", databaseName, err)
		}
	}
	u, _ := url.Parse(LocalServerURL)
	u.Path = "/" + databaseName
	return u.String(), nil
}

func isDuplicateDatabase(err error) bool {
	var target interface{ SQLState() string }
	return errors.As(err, &target) && target.SQLState() == "42P04"
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(database)"
	}
	return u.Redacted()
}
