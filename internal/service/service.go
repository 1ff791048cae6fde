// Package service wires the orchestrator together: the PostgreSQL pool, the
// Partner Center client with OAuth2, the River client with every worker, the
// metrics registry and the operational HTTP server. Commands build on it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"

	"github.com/pcupgrade/orchestrator/internal/api"
	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/heartbeat"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/metrics"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/server"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/tokenstore"
)

// Connect opens a pool on databaseURL and checks that the server answers,
// with an error that says what to do when it does not.
func Connect(ctx context.Context, databaseURL string, maxConns int32) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("database_url: %w", err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s does not answer (%w); check DATABASE_URL and that PostgreSQL is running", pcfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// InsertClient returns a River client that only inserts jobs (no workers).
func InsertClient(pool *pgxpool.Pool, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
}

// Service is a running orchestrator: workers plus operational HTTP.
type Service struct {
	cfg      config.Config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	store    *store.Store
	river    *river.Client[pgx.Tx]
	registry *prometheus.Registry
	api      http.Handler
	// riverUI is the River UI; riverUIAuthed is it behind the API's bearer
	// tokens, the only way it is served.
	riverUI       *riverui.Handler
	riverUIAuthed http.Handler
	// dbMetrics is refreshed in the background while Run runs.
	dbMetrics *metrics.DBCollector
	// heart is this process's heartbeat (see package heartbeat).
	heart *heartbeat.Beater
}

// Option changes how New wires the service.
type Option func(*jobs.Deps)

// WithJobDeps lets change adjust the workers' dependencies before they are
// registered, such as putting a Partner Center part that fails in a chosen
// way in place of the real one (to rehearse faults).
func WithJobDeps(change func(*jobs.Deps)) Option {
	return Option(change)
}

// New builds a Service on pool from cfg; it starts nothing. version is
// reported in metrics and the User-Agent.
func New(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, logger *slog.Logger, version string, opts ...Option) (*Service, error) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, version)
	if err != nil {
		return nil, err
	}
	st := store.New(pool)
	m.SetOutageAlertAfter(cfg.Outage.AlertAfter)
	dbMetrics := metrics.NewDBCollector(st, metrics.DefaultDBTTL, metrics.DefaultMaxBatches, logger)
	if err := reg.Register(dbMetrics); err != nil {
		return nil, fmt.Errorf("register database metrics: %w", err)
	}

	if cfg.PartnerCenter.RefreshToken == "" {
		logger.Warn("no refresh token configured: Partner Center tokens will be app-only (client credentials), " +
			"and product upgrades accept app+user tokens only; every product-upgrade call will be refused with 403/900329. " +
			"Set PARTNER_CENTER_REFRESH_TOKEN from the secure application model consent.")
	}
	creds := partnercenter.Credentials{
		TenantID:     cfg.PartnerCenter.TenantID,
		ClientID:     cfg.PartnerCenter.ClientID,
		ClientSecret: cfg.PartnerCenter.ClientSecret,
		RefreshToken: cfg.PartnerCenter.RefreshToken,
		TokenURL:     cfg.PartnerCenter.TokenURL,
		Scope:        cfg.PartnerCenter.Scope,
		Resource:     cfg.PartnerCenter.Resource,
		OnToken:      m.ObserveToken,
	}
	if creds.RefreshToken != "" {
		if cfg.PartnerCenter.TokenEncryptionKey == "" {
			logger.Warn("no token encryption key: refresh tokens Partner Center rotates are kept in memory only; " +
				"set PARTNER_CENTER_TOKEN_ENCRYPTION_KEY so replicas and restarts share the newest one")
		} else {
			key, err := tokenstore.ParseKey(cfg.PartnerCenter.TokenEncryptionKey)
			if err != nil {
				return nil, err
			}
			ts, err := tokenstore.New(st, key, creds.TenantID, creds.ClientID)
			if err != nil {
				return nil, err
			}
			creds.RefreshTokenStore = ts
		}
	}
	base := &http.Client{Timeout: cfg.PartnerCenter.Timeout}
	authed, err := partnercenter.NewHTTPClient(ctx, creds, base)
	if err != nil {
		return nil, fmt.Errorf("partner center credentials: %w", err)
	}
	pc, err := partnercenter.NewClient(authed,
		partnercenter.WithBaseURL(cfg.PartnerCenter.BaseURL),
		partnercenter.WithUserAgent("pcupgrade-orchestrator/"+version),
		partnercenter.WithApplication(cfg.PartnerCenter.Application),
		partnercenter.WithObserver(m.ObserveCall),
	)
	if err != nil {
		return nil, fmt.Errorf("partner center client: %w", err)
	}

	gov, err := ratelimit.New(st, cfg.RateLimits.Governed(), cfg.RateLimits.Headroom, cfg.RateLimits.PollReserve)
	if err != nil {
		return nil, err
	}
	m.SetConfiguredRates(gov.ConfiguredRates())
	worker := WorkerID()
	heart := heartbeat.New(st, worker, cfg.Workers.DeadAfter, logger, m.ObserveDeclaredDead)
	deps := &jobs.Deps{
		Store:                st,
		Upgrades:             pc.ProductUpgrades,
		Subscriptions:        pc.SubscriptionUpgrades,
		Transitions:          pc.Transitions,
		Logger:               logger,
		Governor:             gov,
		Worker:               worker,
		Alive:                heart.Alive,
		LeaseTTL:             cfg.Workers.JobTimeout + 5*time.Second,
		Polls:                jobs.NewPollPlanner(st, gov, cfg.Polling.InitialInterval, cfg.Polling.MaxInterval, cfg.Polling.LearnedQuantiles, cfg.Polling.SpareBelow, logger),
		StuckAfter:           cfg.Polling.StuckAfter,
		StallAfter:           cfg.Reconcile.StallAfter,
		ReconcileInterval:    cfg.Reconcile.Interval,
		MaxRequeues:          cfg.Reconcile.MaxRequeues,
		DispatchInterval:     cfg.Workers.DispatchInterval,
		QueueDepth:           cfg.Workers.QueueDepth,
		AuthPause:            cfg.Workers.AuthPause,
		Retry:                jobs.RetryPolicy{Base: cfg.Workers.RetryBase, Max: cfg.Workers.RetryMax},
		Outage:               store.OutagePolicy{AfterFailures: cfg.Outage.AfterFailures, ProbeBase: cfg.Outage.ProbeInterval, ProbeMax: cfg.Outage.ProbeMax},
		Halt:                 store.HaltPolicy{FailureRate: cfg.Halt.FailureRate, Window: cfg.Halt.Window, MinItems: cfg.Halt.MinItems},
		Observe:              m.ObserveItem,
		UnknownStatusPolls:   cfg.Polling.UnknownStatusPolls,
		ObserveAttention:     m.ObserveAttention,
		ObservePoisoned:      m.ObservePoisoned,
		ObserveRecordFailure: m.ObserveRecordFailure,
	}
	for _, o := range opts {
		o(deps)
	}
	workers := river.NewWorkers()
	if err := jobs.Register(workers, deps); err != nil {
		return nil, err
	}
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:                   worker,
		Logger:               logger,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers.MaxWorkers}},
		Workers:              workers,
		PeriodicJobs:         jobs.PeriodicJobs(deps),
		MaxAttempts:          cfg.Workers.MaxAttempts,
		JobTimeout:           cfg.Workers.JobTimeout,
		RescueStuckJobsAfter: cfg.Workers.RescueStuckJobsAfter,
		RetryPolicy:          deps.Retry,
		FetchCooldown:        50 * time.Millisecond,
		// A job snoozed briefly (a first poll, a wait for a rate token)
		// becomes due without any notification: the fetch poll is how late
		// a replica notices it. One indexed query per 100 ms per replica.
		FetchPollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	enq := jobs.NewEnqueuer(rc)
	ctl := control.New(st, enq, "api")
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(rc, nil),
		Logger:    logger,
		Prefix:    server.RiverUIPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	return &Service{cfg: cfg, logger: logger, pool: pool, store: st, river: rc, registry: reg,
		api: api.New(st, ctl, enq.QueueDispatch, cfg.Server.APITokens, logger), riverUI: ui,
		riverUIAuthed: api.RequireBearer(cfg.Server.APITokens, ui), dbMetrics: dbMetrics, heart: heart}, nil
}

// WorkerID names this process in item leases, histories, api_calls, its
// heartbeat row and as River's client id: host name, process id and a
// random suffix, so a container restarted with the same host name and pid 1
// is a new process, never the one that died.
func WorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%d-%06x", host, os.Getpid(), rand.Uint32()&0xffffff) //nolint:gosec // a name, not a secret
}

// Run registers the process's heartbeat, starts the workers and serves HTTP
// on ln until ctx is done, then stops fetching, lets running jobs finish (up
// to workers.shutdown_timeout, cancelling them after that), records the
// clean stop and shuts the server down.
//
// When another replica declared this process dead (it did not beat for
// workers.dead_after: it was paused or cut off from the database), its jobs
// already run elsewhere: Run returns an error wrapping
// store.ErrDeclaredDead at once, without stopping the workers gracefully
// (which would record outcomes of jobs that now belong to other processes),
// and the caller must exit.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUI()
	// The UI starts first: if it cannot, no worker has started to leave
	// running.
	if err := s.riverUI.Start(uiCtx); err != nil {
		return fmt.Errorf("start river ui: %w", err)
	}
	if err := s.heart.Register(ctx); err != nil {
		return fmt.Errorf("register heartbeat: %w", err)
	}
	heartCtx, stopHeart := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHeart()
	heartErr := make(chan error, 1)
	go func() { heartErr <- s.heart.Run(heartCtx) }()
	if err := s.river.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	go s.dbMetrics.Run(uiCtx)
	srv := server.New(ln.Addr().String(), s.Handler())
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	s.logger.Info("serving", slog.String("addr", ln.Addr().String()))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http server: %w", err)
		}
	case err := <-heartErr:
		if err != nil {
			s.logger.Error("ALERT: this process was declared dead by another replica (no heartbeat for workers.dead_after); "+
				"its jobs were handed to other processes; exiting without finishing them", slog.String("error", err.Error()))
			return err
		}
	}

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Workers.ShutdownTimeout)
	defer cancel()
	if err := s.river.Stop(stopCtx); err != nil {
		s.logger.Warn("jobs still running at shutdown deadline; cancelling them", slog.String("error", err.Error()))
		hardCtx, hardCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer hardCancel()
		_ = s.river.StopAndCancel(hardCtx)
	}
	stopHeart()
	if err := s.heart.Stop(stopCtx); err != nil {
		s.logger.Warn("recording the clean stop", slog.String("error", err.Error()))
	}
	if err := srv.Shutdown(stopCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("http shutdown: %w", err)
	}
	return runErr
}

// Handler returns the service's HTTP handler: /api/v1, /riverui (both
// behind the bearer tokens), /metrics, /healthz and /readyz.
func (s *Service) Handler() http.Handler {
	return server.Handler(s.registry, s.ready, s.api, s.riverUIAuthed, s.logger)
}

// Store returns the service's store.
func (s *Service) Store() *store.Store { return s.store }

func (s *Service) ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	select {
	case <-s.river.Stopped():
		return errors.New("workers stopped")
	default:
		return nil
	}
}
