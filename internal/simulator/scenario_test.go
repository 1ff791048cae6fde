package simulator_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestExampleScenarios(t *testing.T) {
	t.Parallel()
	def, err := simulator.LoadScenario("../../examples/scenarios/default.yaml")
	require.NoError(t, err)
	require.InDelta(t, 0.10, def.FailShare, 1e-9)
	require.Equal(t, simulator.DefaultRateLimits(), def.RateLimits)
	_, err = simulator.New(def)
	require.NoError(t, err)

	hostile, err := simulator.LoadScenario("../../examples/scenarios/hostile.yaml")
	require.NoError(t, err)
	require.InDelta(t, 0.10, hostile.FailShare, 1e-9)
	require.InDelta(t, 0.05, hostile.IneligibleShare, 1e-9)
	require.Equal(t, 500, hostile.RateLimits[simulator.OpTransitionCreate].Limit)
	require.InDelta(t, 0.05, hostile.Faults["*"].Share500+hostile.Faults["*"].Share503, 1e-9)
	require.Positive(t, hostile.Faults["*"].ResetShare)
	_, err = simulator.New(hostile)
	require.NoError(t, err)

	outage, err := simulator.LoadScenario("../../examples/scenarios/outage.yaml")
	require.NoError(t, err)
	require.Len(t, outage.Outages, 2)
	require.Equal(t, 2*time.Minute, outage.Outages[0].To-outage.Outages[0].From)
	require.Equal(t, simulator.OutageToken, outage.Outages[1].Scope)
	_, err = simulator.New(outage)
	require.NoError(t, err)
}

func TestParseScenario(t *testing.T) {
	t.Parallel()
	o, err := simulator.ParseScenario([]byte(`
seed: 9
lifecycle: {min: 1s, max: 2s}
clock_speedup: 10
pin_credentials: {client_id: a, client_secret: b}
documented_rate_limits: false
rate_limits:
  product_upgrade_create: {limit: 5, per: 1s}
faults:
  transitions: {status_503: 0.5, latency: {min: 1ms, max: 2ms}}
`))
	require.NoError(t, err)
	require.Equal(t, int64(9), o.Seed)
	require.Equal(t, time.Second, o.MinDuration)
	require.InDelta(t, 10, o.ClockSpeedup, 1e-9)
	require.Equal(t, "a", o.PinCredentials.ClientID)
	require.Equal(t, map[string]simulator.RateLimit{simulator.OpProductUpgradeCreate: {Limit: 5, Per: time.Second}}, o.RateLimits)
	require.Equal(t, 2*time.Millisecond, o.Faults[simulator.OpTransitions].Latency.Max)

	for _, tc := range []struct{ doc, want string }{
		{"seed: 1\nbogus: 2\n", "line 2"},
		{"seed: 1\nfaults:\n  \"*\":\n    status_501: 0.1\n", "line 4"},
		{"token_ttl: 1h\nlifecycle:\n  min: soon\n", "line 3"},
		{"fail_share: 2\n", "FailShare"},
		{"faults:\n  nope: {status_500: 0.1}\n", "nope"},
	} {
		_, err := simulator.ParseScenario([]byte(tc.doc))
		require.Error(t, err, tc.doc)
		require.Contains(t, err.Error(), tc.want)
	}
}
