package metrics

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// countingCounter is a hand-written ItemCounter that counts its queries.
type countingCounter struct {
	calls atomic.Int32
	fail  bool
}

func (c *countingCounter) ActiveStatusCounts(context.Context, int) ([]store.ActiveStatusCount, error) {
	c.calls.Add(1)
	if c.fail {
		return nil, errors.New("database down")
	}
	return []store.ActiveStatusCount{
		{Batch: "wave-1", Status: upgrade.StatusCompleted, Count: 7},
		{Batch: "wave-1", Status: upgrade.StatusPending, Count: 3},
	}, nil
}

func TestMetricsLintAndValues(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, "v1.2.3")
	require.NoError(t, err)
	counter := &countingCounter{}
	require.NoError(t, reg.Register(NewItemsCollector(counter, time.Hour, 10, slog.New(slog.DiscardHandler))))

	m.ObservePartnerCenterCall("product_upgrade_create", 202, 120*time.Millisecond)
	m.ObservePartnerCenterCall("product_upgrade_create", 429, 10*time.Millisecond)
	m.ObservePartnerCenterCall("product_upgrade_status", 0, time.Second)

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP orchestrator_partnercenter_requests_total Partner Center requests by operation and status class (2xx, 4xx, 5xx, or error when no response arrived).
# TYPE orchestrator_partnercenter_requests_total counter
orchestrator_partnercenter_requests_total{operation="product_upgrade_create",status_class="2xx"} 1
orchestrator_partnercenter_requests_total{operation="product_upgrade_create",status_class="4xx"} 1
orchestrator_partnercenter_requests_total{operation="product_upgrade_status",status_class="error"} 1
# HELP orchestrator_partnercenter_throttled_total Partner Center requests answered 429 Too Many Requests, by operation.
# TYPE orchestrator_partnercenter_throttled_total counter
orchestrator_partnercenter_throttled_total{operation="product_upgrade_create"} 1
# HELP orchestrator_items Items of running batches by batch and status.
# TYPE orchestrator_items gauge
orchestrator_items{batch="wave-1",status="completed"} 7
orchestrator_items{batch="wave-1",status="pending"} 3
`), "orchestrator_partnercenter_requests_total", "orchestrator_partnercenter_throttled_total", "orchestrator_items"))

	// Every scrape within the TTL reuses the first query.
	_, err = reg.Gather()
	require.NoError(t, err)
	require.Equal(t, int32(1), counter.calls.Load(), "three scrapes, one query per TTL")
}

func TestItemsCollectorReportsQueryFailure(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(NewItemsCollector(&countingCounter{fail: true}, 0, 10, slog.New(slog.DiscardHandler))))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP orchestrator_items_query_up 1 when the last item count query succeeded.
# TYPE orchestrator_items_query_up gauge
orchestrator_items_query_up 0
`), "orchestrator_items_query_up"))
}
