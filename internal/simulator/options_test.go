package simulator_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	tests := []struct {
		name   string
		modify func(*simulator.Options)
		want   string
	}{
		{"negative share", func(o *simulator.Options) { o.IneligibleShare = -0.1 }, "IneligibleShare"},
		{"share above one", func(o *simulator.Options) { o.FailShare = 1.5 }, "FailShare"},
		{"NaN share", func(o *simulator.Options) { o.FailShare = math.NaN() }, "FailShare"},
		{"max below min", func(o *simulator.Options) { o.MinDuration, o.MaxDuration = 10*time.Second, 5*time.Second }, "MaxDuration"},
		{"negative duration", func(o *simulator.Options) { o.MinDuration = -time.Second }, "negative"},
		{"negative line items", func(o *simulator.Options) { o.MaxLineItems = -1 }, "MaxLineItems"},
		{"negative ttl", func(o *simulator.Options) { o.TokenTTL = -time.Second }, "TokenTTL"},
		{"unknown latency op", func(o *simulator.Options) { o.Latency = map[string]time.Duration{"create": time.Second} }, "unknown operation"},
		{"negative latency", func(o *simulator.Options) {
			o.Latency = map[string]time.Duration{simulator.OpToken: -time.Second}
		}, "negative"},
		{"id not a guid", func(o *simulator.Options) { o.Failing = []string{"contoso"} }, "not a GUID"},
		{"id in two lists", func(o *simulator.Options) { o.Failing, o.Succeeding = []string{id}, []string{id} }, "both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := simulator.DefaultOptions()
			tt.modify(&opts)
			_, err := simulator.New(opts)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestZeroOptionsTakeDefaults(t *testing.T) {
	t.Parallel()
	sim, err := simulator.New(simulator.Options{})
	require.NoError(t, err)
	for i := range 500 {
		o := sim.Predict(deterministicCustomer(i))
		require.True(t, o.Eligible, "zero shares: everyone eligible")
		require.False(t, o.Fails)
		require.GreaterOrEqual(t, o.Duration, simulator.DefaultMinDuration)
		require.LessOrEqual(t, o.Duration, simulator.DefaultMaxDuration)
		require.LessOrEqual(t, len(o.LineItems), simulator.DefaultMaxLineItems)
	}

	fixed, err := simulator.New(simulator.Options{MinDuration: time.Minute})
	require.NoError(t, err)
	require.Equal(t, time.Minute, fixed.Predict(uuid.NewString()).Duration)

	d := simulator.DefaultOptions()
	require.InDelta(t, 0.10, d.IneligibleShare, 0)
	require.InDelta(t, 0.10, d.FailShare, 0)
	require.NotNil(t, d.Now)
}

func TestOptionsAreCopied(t *testing.T) {
	t.Parallel()
	id := uuid.NewString()
	opts := simulator.DefaultOptions()
	opts.Ineligible = []string{id}
	sim, err := simulator.New(opts)
	require.NoError(t, err)
	opts.Ineligible[0] = uuid.NewString()
	require.False(t, sim.Predict(id).Eligible)
}
