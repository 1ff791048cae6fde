package simulator_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// The simulator counts concurrent calls per item and, after a mark, the
// first call about each item.
func TestStatsCountConcurrentCallsPerItemAndFirstCallsAfterMark(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Latency = map[string]time.Duration{simulator.OpProductUpgradeEligibility: 300 * time.Millisecond}
	b := setup(t, opts)
	const together, alone = "0f6c2a3e-1b2d-4c5e-8f9a-0b1c2d3e4f5a", "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
	body := func(c string) map[string]string { return map[string]string{"customerId": c, "productFamily": "Azure"} }

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { b.post(t, "/v1/productUpgrades/eligibility", "", body(together)) })
	}
	wg.Wait()
	b.post(t, "/v1/productUpgrades/eligibility", "", body(alone))
	b.post(t, "/v1/productUpgrades/eligibility", "", body(alone))

	st := b.sim.Stats()
	require.Equal(t, 2, st.MaxConcurrentPerItem)
	require.Equal(t, map[string]int{together: 2}, st.ConcurrentItems)
	require.Nil(t, st.Mark)

	before := time.Now()
	mark := b.post(t, "/_sim/mark", "", "")
	require.Equal(t, http.StatusNoContent, mark.status)
	b.post(t, "/v1/productUpgrades/eligibility", "", body(alone))
	b.post(t, "/v1/productUpgrades/eligibility", "", body(alone))

	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/_sim/stats", nil)
	require.NoError(t, err)
	var got simulator.Stats
	require.NoError(t, json.Unmarshal(b.do(t, req).body, &got))
	require.NotNil(t, got.Mark)
	require.WithinDuration(t, before, *got.Mark, time.Second)
	require.Len(t, got.FirstCallsAfterMark, 1)
	first := got.FirstCallsAfterMark[alone]
	require.True(t, !first.Before(*got.Mark) && first.Before(got.Mark.Add(300*time.Millisecond)),
		"the first call after the mark, not the second: %s vs mark %s", first, got.Mark)
}
