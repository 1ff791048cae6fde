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
)

// Config is the whole configuration. Every key is documented in
// config.example.yaml at the repository root.
type Config struct {
	DatabaseURL   string        `yaml:"database_url"`
	PartnerCenter PartnerCenter `yaml:"partner_center"`
	Server        Server        `yaml:"server"`
	Workers       Workers       `yaml:"workers"`
	Polling       Polling       `yaml:"polling"`
	Reconcile     Reconcile     `yaml:"reconcile"`
	Log           Log           `yaml:"log"`
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
}

// Polling configures how upgrade status is polled.
type Polling struct {
	InitialInterval time.Duration `yaml:"initial_interval"`
	MaxInterval     time.Duration `yaml:"max_interval"`
}

// Reconcile configures the periodic repair job.
type Reconcile struct {
	Interval   time.Duration `yaml:"interval"`
	StallAfter time.Duration `yaml:"stall_after"`
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
)

// DefaultBaseURL is Partner Center's global endpoint, without version.
const DefaultBaseURL = "https://api.partnercenter.microsoft.com"

// Default returns the configuration used when nothing else is given.
func Default() Config {
	return Config{
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/orchestrator?sslmode=disable",
		PartnerCenter: PartnerCenter{
			BaseURL:     DefaultBaseURL,
			Scope:       "https://api.partnercenter.microsoft.com/.default",
			Application: "pcupgrade-orchestrator",
			Timeout:     60 * time.Second,
		},
		Server: Server{Listen: ":8080"},
		Workers: Workers{
			MaxWorkers:           20,
			MaxAttempts:          10,
			JobTimeout:           2 * time.Minute,
			RescueStuckJobsAfter: time.Hour,
			ShutdownTimeout:      25 * time.Second,
			RetryBase:            2 * time.Second,
			RetryMax:             5 * time.Minute,
		},
		Polling:   Polling{InitialInterval: 30 * time.Second, MaxInterval: 10 * time.Minute},
		Reconcile: Reconcile{Interval: time.Minute, StallAfter: 15 * time.Minute},
		Log:       Log{Level: "info"},
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
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.msg)
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
