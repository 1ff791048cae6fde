package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/pcupgrade/orchestrator/internal/ratelimit"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestExampleFileIsTheDefaultAndDocumentsEveryKey(t *testing.T) {
	t.Parallel()

	cfg, err := Load("../../config.example.yaml", env(nil))
	require.NoError(t, err)
	require.Equal(t, Default(), cfg)

	raw, err := os.ReadFile("../../config.example.yaml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	for _, key := range yamlKeys(reflect.TypeFor[Config](), "") {
		require.True(t, hasKey(doc, key), "config.example.yaml lacks %s", key)
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, yamlKeys(f.Type, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

func hasKey(doc map[string]any, dotted string) bool {
	parts := strings.Split(dotted, ".")
	cur := doc
	for i, p := range parts {
		v, ok := cur[p]
		if !ok {
			return false
		}
		if i < len(parts)-1 {
			if cur, ok = v.(map[string]any); !ok {
				return false
			}
		}
	}
	return true
}

func TestLoad(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		file    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name:    "unknown key names it and its line",
			file:    "server:\n  listen: \":1\"\n  lisen: \":2\"\n",
			wantErr: "line 3: field lisen not found",
		},
		{
			name:    "bad duration",
			file:    "polling:\n  initial_interval: soon\n",
			wantErr: "line 2",
		},
		{
			name:    "base url with version",
			file:    "partner_center:\n  base_url: https://api.partnercenter.microsoft.com/v1\n",
			wantErr: "partner_center.base_url",
		},
		{
			name:    "rescue shorter than timeout",
			file:    "workers:\n  job_timeout: 2m\n  rescue_stuck_jobs_after: 1m\n",
			wantErr: "workers.rescue_stuck_jobs_after",
		},
		{
			name:    "dead_after too short",
			file:    "workers:\n  dead_after: 500ms\n",
			wantErr: "workers.dead_after: must be between 1s and 1h",
		},
		{
			name: "dead_after set",
			file: "workers:\n  dead_after: 45s\n",
			check: func(t *testing.T, c Config) {
				require.Equal(t, 45*time.Second, c.Workers.DeadAfter)
			},
		},
		{
			name:    "learned quantiles out of order",
			file:    "polling:\n  learned_quantiles: [0.9, 0.5]\n",
			wantErr: "polling.learned_quantiles",
		},
		{
			name:    "learned quantile above 1",
			file:    "polling:\n  learned_quantiles: [0.5, 1.5]\n",
			wantErr: "polling.learned_quantiles",
		},
		{
			name: "no learned quantiles",
			file: "polling:\n  learned_quantiles: []\n",
			check: func(t *testing.T, c Config) {
				require.Empty(t, c.Polling.LearnedQuantiles)
			},
		},
		{
			name: "one number of a rate limit changed alone",
			file: "rate_limits:\n  limits:\n    subscriptions: {calls: 400}\n",
			check: func(t *testing.T, c Config) {
				var got ratelimit.Limit
				for _, l := range c.RateLimits.Governed() {
					if l.Name == "subscriptions" {
						got = l
					}
				}
				require.Equal(t, 400, got.Calls)
				require.Equal(t, time.Minute, got.Per, "the default period is kept")
				require.Equal(t, ratelimit.ScopeCustomer, got.Scope, "the default scope is kept")
			},
		},
		{
			name:    "rate limit with a negative number",
			file:    "rate_limits:\n  limits:\n    subscriptions: {calls: -1}\n",
			wantErr: "rate_limits.limits.subscriptions.calls",
		},
		{
			name:    "unknown rate limit",
			file:    "rate_limits:\n  limits:\n    subscriptionz: {calls: 1}\n",
			wantErr: "rate_limits.limits.subscriptionz",
		},
		{
			name:    "no re-queue allowed",
			file:    "reconcile:\n  max_requeues: 0\n",
			wantErr: "reconcile.max_requeues",
		},
		{
			name: "re-queue bound set",
			file: "reconcile:\n  max_requeues: 2\n",
			check: func(t *testing.T, c Config) {
				require.Equal(t, 2, c.Reconcile.MaxRequeues)
			},
		},
		{
			name:    "bad log level",
			file:    "log:\n  level: loud\n",
			wantErr: "log.level",
		},
		{
			name: "environment wins over the file",
			file: "database_url: postgres://file/db\npartner_center:\n  client_id: from-file\n",
			env: map[string]string{
				EnvDatabaseURL: "postgres://env/db", EnvClientID: "from-env", EnvClientSecret: "s3cret",
				EnvRefreshToken: "rt", EnvTenantID: "tenant", EnvTokenURL: "http://t/token", EnvBaseURL: "http://sim:1",
			},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "postgres://env/db", c.DatabaseURL)
				require.Equal(t, "from-env", c.PartnerCenter.ClientID)
				require.Equal(t, "s3cret", c.PartnerCenter.ClientSecret)
				require.Equal(t, "rt", c.PartnerCenter.RefreshToken)
				require.Equal(t, "tenant", c.PartnerCenter.TenantID)
				require.Equal(t, "http://t/token", c.PartnerCenter.TokenURL)
				require.Equal(t, "http://sim:1", c.PartnerCenter.BaseURL)
			},
		},
		{
			name: "empty file keeps defaults",
			file: "",
			check: func(t *testing.T, c Config) {
				require.Equal(t, Default(), c)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.file)
			c, err := Load(path, env(tt.env))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, path, "errors name the file")
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	t.Parallel()

	c := Default()
	c.DatabaseURL = "postgres://u:dbpass@h/db"
	c.PartnerCenter.ClientSecret = "clientsecret"
	c.PartnerCenter.RefreshToken = "refreshtoken"
	c.PartnerCenter.TokenEncryptionKey = "encryptionkey"
	out := fmt.Sprint(c.LogValue())
	for _, secret := range []string{"dbpass", "clientsecret", "refreshtoken", "encryptionkey"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "****")
}
