package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// A limit the governor learned below its configured rate shows in status,
// with and without --batch, in text and JSON; one at its configured rate
// does not.
func TestStatusShowsLimitsLearnedBelowTheConfiguredRate(t *testing.T) {
	t.Parallel()
	e := newE2E(t, simulator.DefaultOptions(), fastConfig)
	csvPath := filepath.Join(t.TempDir(), "subs.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("customer_id,subscription_id\n"+uuid.NewString()+","+uuid.NewString()+"\n"), 0o600))
	e.mustRun("import", "--batch", "subs", "--operation", "subscription_upgrade", csvPath)

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, e.dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	cfg, err := config.Load(e.config, func(string) string { return "" })
	require.NoError(t, err)
	gov, err := ratelimit.New(store.New(pool), cfg.RateLimits.Governed(), cfg.RateLimits.Headroom, cfg.RateLimits.PollReserve)
	require.NoError(t, err)
	for _, op := range []string{partnercenter.OpSubscriptionUpgradePerform, partnercenter.OpProductUpgradeCreate} {
		wait, err := gov.Take(ctx, op, "C1", ratelimit.Work)
		require.NoError(t, err)
		require.Zero(t, wait)
	}
	// Partner Center answers the subscription call 429 although it had a token.
	require.NoError(t, gov.Throttled(ctx, partnercenter.OpSubscriptionUpgradePerform, "C1", time.Second))

	configured := 100000.0 / 60
	check := func(raw []store.LearnedRate) {
		t.Helper()
		require.Len(t, raw, 1, "only the limit learned below its configured rate: %+v", raw)
		require.Equal(t, "subscriptions", raw[0].Limit)
		require.InDelta(t, configured, raw[0].ConfiguredPerSecond, 1e-6)
		require.InDelta(t, configured*ratelimit.Decrease, raw[0].LearnedPerSecond, 1e-6)
		require.EqualValues(t, 1, raw[0].Lowered)
	}
	var one struct {
		RateLimits []store.LearnedRate `json:"rate_limits"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun("status", "--batch", "subs", "--json")), &one))
	check(one.RateLimits)
	var all struct {
		Batches    []json.RawMessage   `json:"batches"`
		RateLimits []store.LearnedRate `json:"rate_limits"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun("status", "--json")), &all))
	require.Len(t, all.Batches, 1)
	check(all.RateLimits)

	for _, args := range [][]string{{"status", "--batch", "subs"}, {"status"}} {
		out := e.mustRun(args...)
		require.Contains(t, out, "subscriptions: Partner Center allows less than configured; the governor uses 1166.67 calls/s of the configured 1666.67 (70 %), lowered by 1 429(s)", "%v", args)
		require.NotContains(t, out, "product_upgrade_create", "%v", args)
	}
}
