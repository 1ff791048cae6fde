package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// ItemCounter counts the items of active batches; *store.Store implements it.
type ItemCounter interface {
	ActiveStatusCounts(ctx context.Context, maxBatches int) ([]store.ActiveStatusCount, error)
}

// ItemsCollector exposes orchestrator_items{batch,status} from the database.
// However often it is scraped, it queries at most once per TTL, and only
// running batches (at most MaxBatches, the newest) appear, so the batch
// label stays bounded.
type ItemsCollector struct {
	counter    ItemCounter
	ttl        time.Duration
	maxBatches int
	logger     *slog.Logger
	desc       *prometheus.Desc
	up         *prometheus.Desc

	mu      sync.Mutex
	fetched time.Time
	cached  []store.ActiveStatusCount
	ok      bool
}

// NewItemsCollector returns a collector reading through counter.
func NewItemsCollector(counter ItemCounter, ttl time.Duration, maxBatches int, logger *slog.Logger) *ItemsCollector {
	return &ItemsCollector{
		counter: counter, ttl: ttl, maxBatches: maxBatches, logger: logger,
		desc: prometheus.NewDesc("orchestrator_items", "Items of running batches by batch and status.", []string{"batch", "status"}, nil),
		up:   prometheus.NewDesc("orchestrator_items_query_up", "1 when the last item count query succeeded.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ItemsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *ItemsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.fetched) >= c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		counts, err := c.counter.ActiveStatusCounts(ctx, c.maxBatches)
		cancel()
		c.fetched = time.Now()
		c.ok = err == nil
		if err != nil {
			c.logger.Warn("counting items for metrics", slog.String("error", err.Error()))
		} else {
			c.cached = counts
		}
	}
	up := 0.0
	if c.ok {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	for _, n := range c.cached {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n.Count), n.Batch, string(n.Status))
	}
}
