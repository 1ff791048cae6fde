package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// sample returns the sum of the samples of metric whose labels include
// every pair of want, from a /metrics body.
func sample(t *testing.T, body, metric string, want map[string]string) float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	f, ok := families[metric]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

func TestMetricsMoveAsItemsCompleteAndFail(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 12*time.Second, 15*time.Second // longer than the gauges' 10s refresh
	opts.IneligibleShare, opts.FailShare = 0.1, 0.3
	e := newE2E(t, opts, fastConfig)
	e.env = append(e.env, "ORCHESTRATOR_API_TOKENS=metrics-test-token-0123456789")
	path, _ := writeCustomers(t, 40)
	e.mustRun("import", "--batch", "metrics", path)
	_, logs := e.serve()
	base := "http://" + e.addr(logs)

	// Operator surfaces are never open.
	for _, p := range []string{"/api/v1/batches", "/riverui/", "/riverui/api/jobs"} {
		code, _ := get(t, base+p)
		require.Equal(t, http.StatusUnauthorized, code, p)
	}

	_, first := get(t, base+"/metrics")
	require.Zero(t, sample(t, first, "orchestrator_item_transitions_total", map[string]string{"status": "completed"}))

	// While the batch runs, the database gauges show it by status.
	require.Eventually(t, func() bool {
		_, body := get(t, base+"/metrics")
		return sample(t, body, "orchestrator_items", map[string]string{"batch": "metrics", "status": "in_progress"}) > 0
	}, 30*time.Second, 500*time.Millisecond, "orchestrator_items shows items in progress")

	e.waitDone("metrics", 2*time.Minute)
	_, last := get(t, base+"/metrics")
	completed := sample(t, last, "orchestrator_item_transitions_total", map[string]string{"operation": "product_upgrade", "status": "completed"})
	failed := sample(t, last, "orchestrator_item_transitions_total", map[string]string{"operation": "product_upgrade", "status": "failed"})
	st := e.state("metrics")
	require.Equal(t, float64(st.Counts["completed"]), completed, "every completion counted")
	require.Equal(t, float64(st.Counts["failed"]), failed, "every failure counted")
	require.Positive(t, failed)
	require.Equal(t, failed, sample(t, last, "orchestrator_items_failed_total", nil), "failures by error code add up")
	require.Positive(t, sample(t, last, "orchestrator_partnercenter_requests_total", map[string]string{"operation": "product_upgrade_create", "status_class": "2xx"}))
	require.Positive(t, sample(t, last, "orchestrator_partnercenter_request_duration_seconds", map[string]string{"operation": "product_upgrade_status"}))
	require.Positive(t, sample(t, last, "orchestrator_token_refreshes_total", map[string]string{"result": "success"}))
	require.Equal(t, 1.0, sample(t, last, "orchestrator_db_query_up", nil))
	require.NotContains(t, last, "e2e-refresh-token-value", "no secret in metrics")
	require.NotContains(t, last, "e2e-client-secret-value")
}
