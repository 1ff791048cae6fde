// Package config loads the orchestrator's configuration: defaults, then an
// optional YAML file (unknown keys are an error), then environment variables,
// which win. Secrets are masked whenever the configuration is printed.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pcupgrade/orchestrator/internal/ratelimit"
)

// Config is the whole configuration. Every key is documented in
// config.example.yaml at the repository root.
type Config struct {
	DatabaseURL string `yaml:"database_url"`
	// DatabaseMaxConns bounds each process's PostgreSQL connections. Jobs
	// hold one only while they read or write, never during a Partner
	// Center call, so it can be well below workers.max_workers.
	DatabaseMaxConns int           `yaml:"database_max_conns"`
	PartnerCenter    PartnerCenter `yaml:"partner_center"`
	Server           Server        `yaml:"server"`
	Workers          Workers       `yaml:"workers"`
	Polling          Polling       `yaml:"polling"`
	Reconcile        Reconcile     `yaml:"reconcile"`
	Halt             Halt          `yaml:"halt"`
	Outage           Outage        `yaml:"outage"`
	RateLimits       RateLimits    `yaml:"rate_limits"`
	Log              Log           `yaml:"log"`
}

// RateLimits configures the rate governor: Partner Center's limits, shared
// by every replica through PostgreSQL.
type RateLimits struct {
	// Headroom (0..1] scales every limit, so clock differences with
	// Partner Center do not become 429s.
	Headroom float64 `yaml:"headroom"`
	// PollReserve [0..1) is the share of each bucket's burst that status
	// polls leave to eligibility checks and creates.
	PollReserve float64 `yaml:"poll_reserve"`
	// Limits by name (see ratelimit.DefaultLimits for the names and the
	// operations each covers).
	Limits map[string]RateLimit `yaml:"limits"`
}

// RateLimit is one limit: Calls per Per, for the partner or per customer.
// A field left out (zero) keeps the default limit's value, so one number
// can be changed alone.
type RateLimit struct {
	Calls int           `yaml:"calls"`
	Per   time.Duration `yaml:"per"`
	Scope string        `yaml:"scope"`
}

// PartnerCenter says where Partner Center is and how to authenticate.
type PartnerCenter struct {
	BaseURL      string `yaml:"base_url"`
	TokenURL     string `yaml:"token_url"`
	Scope        string `yaml:"scope"`
	Resource     string `yaml:"resource"`
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	RefreshToken string `yaml:"refresh_token"`
	// TokenEncryptionKey (base64, 32 bytes) encrypts rotated refresh tokens
	// kept in PostgreSQL; without it they are kept in memory only.
	TokenEncryptionKey string        `yaml:"token_encryption_key"`
	Application        string        `yaml:"application"`
	Timeout            time.Duration `yaml:"timeout"`
}

// Server configures the HTTP listener of `serve`.
type Server struct {
	Listen string `yaml:"listen"`
	// APITokens are the bearer tokens /api/v1 accepts. Empty: the API
	// answers 401 to everyone.
	APITokens []string `yaml:"api_tokens"`
}

// Workers configures the River job workers.
type Workers struct {
	MaxWorkers           int           `yaml:"max_workers"`
	MaxAttempts          int           `yaml:"max_attempts"`
	JobTimeout           time.Duration `yaml:"job_timeout"`
	RescueStuckJobsAfter time.Duration `yaml:"rescue_stuck_jobs_after"`
	ShutdownTimeout      time.Duration `yaml:"shutdown_timeout"`
	RetryBase            time.Duration `yaml:"retry_base"`
	RetryMax             time.Duration `yaml:"retry_max"`
	// AuthPause is how long all work pauses after Partner Center refused
	// our credentials.
	AuthPause time.Duration `yaml:"auth_pause"`
	// QueueDepth is how many items may be queued for a worker at once;
	// DispatchInterval how often the leader tops the queue up.
	QueueDepth       int           `yaml:"queue_depth"`
	DispatchInterval time.Duration `yaml:"dispatch_interval"`
	// DeadAfter is how long a serve process may go without a heartbeat
	// before another declares it dead, hands the jobs it was running back
	// to the queue and releases its item leases.
	DeadAfter time.Duration `yaml:"dead_after"`
}

// Polling configures how upgrade status is polled.
type Polling struct {
	InitialInterval time.Duration `yaml:"initial_interval"`
	MaxInterval     time.Duration `yaml:"max_interval"`
	// StuckAfter flags an item stuck when Partner Center has worked on it
	// this long; it is then no longer polled.
	StuckAfter time.Duration `yaml:"stuck_after"`
	// LearnedQuantiles are the polls' ladder: poll number k comes when the
	// k-th quantile of the recently finished work of the same operation was
	// done (never later than the backoff says); past the ladder, the
	// backoff. Ascending, each in (0, 1]; empty disables learning.
	LearnedQuantiles []float64 `yaml:"learned_quantiles"`
	// SpareBelow makes the rungs of quantiles below it early polls, which
	// go only while the status budget has room to spare (more than half of
	// its burst left) and are otherwise skipped for the next rung.
	SpareBelow float64 `yaml:"spare_below"`
	// UnknownStatusPolls is how many polls may find a status value the
	// service does not know (recorded verbatim) before the item is flagged
	// for attention and stuck (no longer polled until batch resume).
	UnknownStatusPolls int `yaml:"unknown_status_polls"`
}

// Halt configures the automatic halt of a batch whose items fail too often.
type Halt struct {
	// FailureRate (0..1) of the items settled within Window that, once
	// reached, halts the batch; 0 disables.
	FailureRate float64       `yaml:"failure_rate"`
	Window      time.Duration `yaml:"window"`
	// MinItems settled within Window before the rate is judged.
	MinItems int `yaml:"min_items"`
}

// Outage configures the outage hold: transient failures (5xx, 408,
// timeouts, resets, a token endpoint that throttles or fails) never fail an
// item; after AfterFailures of them in a row within one endpoint family,
// every job of the family waits while one probe call at a time checks
// whether Partner Center answers again.
type Outage struct {
	AfterFailures int `yaml:"after_failures"`
	// ProbeInterval is the wait before the first probe, doubled per probe
	// up to ProbeMax.
	ProbeInterval time.Duration `yaml:"probe_interval"`
	ProbeMax      time.Duration `yaml:"probe_max"`
	// AlertAfter is exported as orchestrator_outage_alert_after_seconds; the
	// PartnerCenterUnavailable alert fires once an outage hold has lasted
	// longer.
	AlertAfter time.Duration `yaml:"alert_after"`
}

// Reconcile configures the periodic repair job.
type Reconcile struct {
	Interval   time.Duration `yaml:"interval"`
	StallAfter time.Duration `yaml:"stall_after"`
	// MaxRequeues is how often an item whose job vanished (discarded after
	// its attempts, a panic) is re-queued in one generation; the next time
	// it fails with internal_error instead.
	MaxRequeues int `yaml:"max_requeues"`
}

// Log configures logging.
type Log struct {
	Level string `yaml:"level"`
}

// Environment variables read by ApplyEnv. They are a contract.
const (
	EnvDatabaseURL  = "DATABASE_URL"
	EnvBaseURL      = "PARTNER_CENTER_BASE_URL"
	EnvTokenURL     = "PARTNER_CENTER_TOKEN_URL"
	EnvTenantID     = "PARTNER_CENTER_TENANT_ID"
	EnvClientID     = "PARTNER_CENTER_CLIENT_ID"
	EnvClientSecret = "PARTNER_CENTER_CLIENT_SECRET"
	EnvRefreshToken = "PARTNER_CENTER_REFRESH_TOKEN"
	EnvTokenKey     = "PARTNER_CENTER_TOKEN_ENCRYPTION_KEY"
	// EnvAPITokens is a comma-separated list of API bearer tokens.
	EnvAPITokens = "ORCHESTRATOR_API_TOKENS"
)

// DefaultBaseURL is Partner Center's global endpoint, without version.
const DefaultBaseURL = "https://api.partnercenter.microsoft.com"

// Default returns the configuration used when nothing else is given.
func Default() Config {
	return Config{
		DatabaseURL:      "postgres://postgres@127.0.0.1:5432/orchestrator?sslmode=disable",
		DatabaseMaxConns: 16,
		PartnerCenter: PartnerCenter{
			BaseURL:     DefaultBaseURL,
			Scope:       "https://api.partnercenter.microsoft.com/.default",
			Application: "pcupgrade-orchestrator",
			Timeout:     60 * time.Second,
		},
		Server: Server{Listen: ":8080", APITokens: []string{}},
		Workers: Workers{
			MaxWorkers:           20,
			MaxAttempts:          10,
			JobTimeout:           2 * time.Minute,
			RescueStuckJobsAfter: time.Hour,
			ShutdownTimeout:      25 * time.Second,
			RetryBase:            2 * time.Second,
			RetryMax:             5 * time.Minute,
			AuthPause:            5 * time.Minute,
			QueueDepth:           1000,
			DispatchInterval:     time.Second,
			DeadAfter:            30 * time.Second,
		},
		Polling: Polling{
			InitialInterval: 30 * time.Second, MaxInterval: 10 * time.Minute, StuckAfter: 72 * time.Hour,
			LearnedQuantiles: []float64{0.5, 0.9, 1}, SpareBelow: 0.9, UnknownStatusPolls: 10,
		},
		Reconcile:  Reconcile{Interval: time.Minute, StallAfter: 15 * time.Minute, MaxRequeues: 5},
		Halt:       Halt{FailureRate: 0.5, Window: 15 * time.Minute, MinItems: 20},
		Outage:     Outage{AfterFailures: 5, ProbeInterval: 5 * time.Second, ProbeMax: 2 * time.Minute, AlertAfter: 5 * time.Minute},
		RateLimits: defaultRateLimits(),
		Log:        Log{Level: "info"},
	}
}

// Load returns the defaults overlaid with the YAML file at path (if path is
// not empty) and then with the environment read through getenv, validated.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := parseYAML(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	cfg.ApplyEnv(getenv)
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func parseYAML(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ApplyEnv overrides values with the environment variables that are set.
func (c *Config) ApplyEnv(getenv func(string) string) {
	set := func(dst *string, key string) {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			*dst = v
		}
	}
	set(&c.DatabaseURL, EnvDatabaseURL)
	set(&c.PartnerCenter.BaseURL, EnvBaseURL)
	set(&c.PartnerCenter.TokenURL, EnvTokenURL)
	set(&c.PartnerCenter.TenantID, EnvTenantID)
	set(&c.PartnerCenter.ClientID, EnvClientID)
	set(&c.PartnerCenter.ClientSecret, EnvClientSecret)
	set(&c.PartnerCenter.RefreshToken, EnvRefreshToken)
	set(&c.PartnerCenter.TokenEncryptionKey, EnvTokenKey)
	if v := strings.TrimSpace(getenv(EnvAPITokens)); v != "" {
		c.Server.APITokens = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Server.APITokens = append(c.Server.APITokens, t)
			}
		}
	}
}

// Validate reports the first invalid value, naming its key.
func (c *Config) Validate() error {
	if c.DatabaseURL == "" {
		return errors.New("database_url: must be set")
	}
	u, err := url.Parse(c.PartnerCenter.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("partner_center.base_url: %q is not an http(s) URL", c.PartnerCenter.BaseURL)
	}
	if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/v1") {
		return fmt.Errorf("partner_center.base_url: %q must not end in /v1; the client adds the version", c.PartnerCenter.BaseURL)
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{c.DatabaseMaxConns >= 4, "database_max_conns: must be at least 4"},
		{c.PartnerCenter.Timeout > 0, "partner_center.timeout: must be positive"},
		{c.Workers.MaxWorkers >= 1 && c.Workers.MaxWorkers <= 10000, "workers.max_workers: must be between 1 and 10000"},
		{c.Workers.MaxAttempts >= 1, "workers.max_attempts: must be at least 1"},
		{c.Workers.JobTimeout > 0, "workers.job_timeout: must be positive"},
		{c.Workers.RescueStuckJobsAfter > c.Workers.JobTimeout, "workers.rescue_stuck_jobs_after: must be longer than workers.job_timeout"},
		{c.Workers.ShutdownTimeout > 0, "workers.shutdown_timeout: must be positive"},
		{c.Workers.RetryBase > 0, "workers.retry_base: must be positive"},
		{c.Workers.RetryMax >= c.Workers.RetryBase, "workers.retry_max: must be at least workers.retry_base"},
		{c.Polling.InitialInterval > 0, "polling.initial_interval: must be positive"},
		{c.Polling.MaxInterval >= c.Polling.InitialInterval, "polling.max_interval: must be at least polling.initial_interval"},
		{c.Reconcile.Interval >= time.Second, "reconcile.interval: must be at least 1s"},
		{c.Reconcile.StallAfter > 0, "reconcile.stall_after: must be positive"},
		{c.Reconcile.MaxRequeues >= 1 && c.Reconcile.MaxRequeues <= 1000, "reconcile.max_requeues: must be between 1 and 1000"},
		{c.Workers.AuthPause >= time.Second, "workers.auth_pause: must be at least 1s"},
		{c.Workers.QueueDepth >= 1, "workers.queue_depth: must be at least 1"},
		{c.Workers.DispatchInterval >= 100*time.Millisecond, "workers.dispatch_interval: must be at least 100ms"},
		{c.Workers.DeadAfter >= time.Second && c.Workers.DeadAfter <= time.Hour, "workers.dead_after: must be between 1s and 1h"},
		{c.Polling.StuckAfter > c.Polling.InitialInterval, "polling.stuck_after: must be longer than polling.initial_interval"},
		{c.Halt.FailureRate >= 0 && c.Halt.FailureRate <= 1, "halt.failure_rate: must be between 0 and 1 (0 disables)"},
		{c.Halt.Window > 0, "halt.window: must be positive"},
		{c.Halt.MinItems >= 1, "halt.min_items: must be at least 1"},
		{c.Outage.AfterFailures >= 1, "outage.after_failures: must be at least 1"},
		{c.Outage.ProbeInterval >= 100*time.Millisecond, "outage.probe_interval: must be at least 100ms"},
		{c.Outage.ProbeMax >= c.Outage.ProbeInterval, "outage.probe_max: must be at least outage.probe_interval"},
		{c.Outage.AlertAfter > 0, "outage.alert_after: must be positive"},
		{c.Polling.SpareBelow >= 0 && c.Polling.SpareBelow <= 1, "polling.spare_below: must be between 0 and 1 (0: no early polls)"},
		{quantilesAscending(c.Polling.LearnedQuantiles), "polling.learned_quantiles: must ascend, each above 0 and at most 1, at most 5 of them"},
		{c.Polling.UnknownStatusPolls >= 1, "polling.unknown_status_polls: must be at least 1"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.msg)
		}
	}
	if err := c.RateLimits.validate(); err != nil {
		return err
	}
	for i, t := range c.Server.APITokens {
		if len(t) < 16 {
			return fmt.Errorf("server.api_tokens[%d]: must be at least 16 characters", i)
		}
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		return err
	}
	return nil
}

// SlogLevel returns the configured log level.
func (l Log) SlogLevel() (slog.Level, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", l.Level)
	}
	return lvl, nil
}

// LogValue prints the configuration with secrets and database passwords
// masked, so it can be logged at startup.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("database_url", redactURL(c.DatabaseURL)),
		slog.String("partner_center.base_url", c.PartnerCenter.BaseURL),
		slog.String("partner_center.token_url", c.PartnerCenter.TokenURL),
		slog.String("partner_center.tenant_id", c.PartnerCenter.TenantID),
		slog.String("partner_center.client_id", c.PartnerCenter.ClientID),
		slog.String("partner_center.client_secret", mask(c.PartnerCenter.ClientSecret)),
		slog.String("partner_center.refresh_token", mask(c.PartnerCenter.RefreshToken)),
		slog.String("partner_center.token_encryption_key", mask(c.PartnerCenter.TokenEncryptionKey)),
		slog.String("server.listen", c.Server.Listen),
		slog.Int("server.api_tokens", len(c.Server.APITokens)),
		slog.Int("workers.max_workers", c.Workers.MaxWorkers),
		slog.Duration("polling.initial_interval", c.Polling.InitialInterval),
		slog.Duration("reconcile.interval", c.Reconcile.Interval),
	)
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

func defaultRateLimits() RateLimits {
	r := RateLimits{Headroom: 0.98, PollReserve: 0.2, Limits: map[string]RateLimit{}}
	for _, l := range ratelimit.DefaultLimits() {
		r.Limits[l.Name] = RateLimit{Calls: l.Calls, Per: l.Per, Scope: string(l.Scope)}
	}
	return r
}

func (r RateLimits) validate() error {
	if r.Headroom <= 0 || r.Headroom > 1 {
		return errors.New("rate_limits.headroom: must be in (0, 1]")
	}
	if r.PollReserve < 0 || r.PollReserve >= 1 {
		return errors.New("rate_limits.poll_reserve: must be in [0, 1)")
	}
	known := map[string]bool{}
	for _, l := range ratelimit.DefaultLimits() {
		known[l.Name] = true
	}
	for name := range r.Limits {
		if !known[name] {
			return fmt.Errorf("rate_limits.limits.%s: unknown limit", name)
		}
	}
	for _, l := range r.Governed() {
		switch {
		case l.Calls <= 0:
			return fmt.Errorf("rate_limits.limits.%s.calls: must be positive", l.Name)
		case l.Per <= 0:
			return fmt.Errorf("rate_limits.limits.%s.per: must be positive", l.Name)
		case l.Scope != ratelimit.ScopePartner && l.Scope != ratelimit.ScopeCustomer:
			return fmt.Errorf("rate_limits.limits.%s.scope: must be partner or customer", l.Name)
		}
	}
	return nil
}

// Governed returns the limits for the rate governor: the defaults'
// operations with the configured numbers (the default's where a field is
// left out).
func (r RateLimits) Governed() []ratelimit.Limit {
	var out []ratelimit.Limit
	for _, l := range ratelimit.DefaultLimits() {
		if c, ok := r.Limits[l.Name]; ok {
			if c.Calls != 0 {
				l.Calls = c.Calls
			}
			if c.Per != 0 {
				l.Per = c.Per
			}
			if c.Scope != "" {
				l.Scope = ratelimit.Scope(c.Scope)
			}
		}
		out = append(out, l)
	}
	return out
}

// quantilesAscending reports whether q ascends strictly within (0, 1] and
// has at most five entries.
func quantilesAscending(q []float64) bool {
	if len(q) > 5 {
		return false
	}
	prev := 0.0
	for _, v := range q {
		if !(v > prev && v <= 1) {
			return false
		}
		prev = v
	}
	return true
}
