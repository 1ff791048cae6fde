package metrics

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Defaults of NewDBCollector.
const (
	DefaultDBTTL        = 10 * time.Second
	DefaultMaxBatches   = 20
	defaultQueryTimeout = 5 * time.Second
)

// Snapshotter reads the database-backed gauges; *store.Store implements it.
type Snapshotter interface {
	MetricsSnapshot(ctx context.Context, maxBatches int) (store.MetricsSnapshot, error)
}

// DBCollector exposes every database-backed gauge of docs/metrics.md from
// one cached snapshot: however often it is scraped, it queries at most once
// per TTL. On a failed query it keeps the previous values and reports
// orchestrator_db_query_up 0.
type DBCollector struct {
	src        Snapshotter
	ttl        time.Duration
	maxBatches int
	logger     *slog.Logger

	items, lineItems, stuck, batches, paused   *prometheus.Desc
	pausedSeconds                              *prometheus.Desc
	riverJobs, riverAvailable, riverOldest, up *prometheus.Desc
	processesAlive                             *prometheus.Desc
	learnedRate                                *prometheus.Desc

	mu         sync.Mutex
	fetched    time.Time
	snap       store.MetricsSnapshot
	ok         bool
	background bool // Run keeps the snapshot fresh; scrapes never query
}

// Run refreshes the snapshot until ctx ends, so that a scrape only reads
// memory: /metrics answers in microseconds however many items exist, and
// the database sees one snapshot query per TTL per process whether
// Prometheus scrapes or not, or fewer when the query is slow (see
// refreshEvery).
func (c *DBCollector) Run(ctx context.Context) {
	c.mu.Lock()
	c.background = true
	c.mu.Unlock()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		c.Refresh(ctx)
		t.Reset(refreshEvery(c.ttl, time.Since(start)))
	}
}

// refreshLoad bounds the share of its time a process spends on the
// snapshot query: 1/refreshLoad.
const refreshLoad = 10

// refreshEvery is the time between two snapshot queries: the TTL, or
// refreshLoad times what the last one took when that is longer, so that on
// a very large ledger the gauges get staler instead of the database busier.
func refreshEvery(ttl, took time.Duration) time.Duration {
	return max(ttl, refreshLoad*took)
}

// Refresh reads a new snapshot now. On failure the previous values stay
// and orchestrator_db_query_up becomes 0.
func (c *DBCollector) Refresh(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, defaultQueryTimeout)
	snap, err := c.src.MetricsSnapshot(qctx, c.maxBatches)
	cancel()
	if err != nil && ctx.Err() != nil {
		return // shutting down
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fetched = time.Now()
	c.ok = err == nil
	if err != nil {
		c.logger.Warn("reading metrics from the database", slog.String("error", err.Error()))
		return
	}
	c.snap = snap
}

// NewDBCollector returns a collector reading through src at most once per
// ttl (DefaultDBTTL when 0 or less; a tiny positive ttl queries on every
// scrape), for at most maxBatches active batches (DefaultMaxBatches when 0
// or less).
func NewDBCollector(src Snapshotter, ttl time.Duration, maxBatches int, logger *slog.Logger) *DBCollector {
	if ttl <= 0 {
		ttl = DefaultDBTTL
	}
	if maxBatches <= 0 {
		maxBatches = DefaultMaxBatches
	}
	return &DBCollector{
		src: src, ttl: ttl, maxBatches: maxBatches, logger: logger,
		items: prometheus.NewDesc("orchestrator_items",
			"Items of the batches the workers are moving (running or canary, newest 20), by batch and status.", []string{"batch", "status"}, nil),
		lineItems: prometheus.NewDesc("orchestrator_line_items",
			"Line items of the same batches as orchestrator_items, by Partner Center's line item status (lower case).", []string{"status"}, nil),
		stuck: prometheus.NewDesc("orchestrator_items_stuck",
			"Items of a batch in progress and flagged stuck, no longer polled until batch resume.", []string{"batch"}, nil),
		batches: prometheus.NewDesc("orchestrator_batches",
			"Batches by status, all batches.", []string{"status"}, nil),
		paused: prometheus.NewDesc("orchestrator_work_paused",
			"1 while every job is paused for reason, else 0.", []string{"reason"}, nil),
		pausedSeconds: prometheus.NewDesc("orchestrator_work_paused_seconds",
			"How long the longest pause of reason in force has lasted (an outage: since Partner Center stopped answering), else 0.", []string{"reason"}, nil),
		riverJobs: prometheus.NewDesc("orchestrator_river_jobs",
			"River jobs by kind and state, completed jobs not yet cleaned up included.", []string{"kind", "state"}, nil),
		riverAvailable: prometheus.NewDesc("orchestrator_river_available_jobs",
			"River jobs ready to run now and not yet fetched by a worker (state available).", nil, nil),
		riverOldest: prometheus.NewDesc("orchestrator_river_oldest_available_job_age_seconds",
			"Seconds since the oldest available River job became runnable; 0 when there is none.", nil, nil),
		processesAlive: prometheus.NewDesc("orchestrator_processes_alive",
			"Serve processes with a heartbeat row neither stopped nor declared dead (one that stops beating leaves it within workers.dead_after plus a beat).", nil, nil),
		learnedRate: prometheus.NewDesc("orchestrator_rate_limit_learned_per_second",
			"Calls per second the rate governor allows each limit now, learned from Partner Center's 429s (before headroom); at most the configured rate.", []string{"limit"}, nil),
		up: prometheus.NewDesc("orchestrator_db_query_up",
			"1 when the last query behind the database-backed gauges succeeded, else 0.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DBCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.items, c.lineItems, c.stuck, c.batches, c.paused, c.pausedSeconds,
		c.riverJobs, c.riverAvailable, c.riverOldest, c.processesAlive, c.learnedRate, c.up} {
		ch <- d
	}
}

// riverStates are River's job states, each emitted for every kind seen.
var riverStates = []string{"available", "scheduled", "running", "retryable", "completed", "cancelled", "discarded", "pending"}

// lineItemStatuses are always emitted, zero included.
var lineItemStatuses = []string{"completed", "failed", "in_progress"}

// boundedLabel lower-cases v and maps anything empty, long or odd to
// "unknown", so a value read from the database cannot blow up a label.
func boundedLabel(v string) string {
	return ErrorCodeLabel(strings.ToLower(strings.TrimSpace(v)))
}

// Collect implements prometheus.Collector.
func (c *DBCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	stale := !c.background && (c.fetched.IsZero() || time.Since(c.fetched) >= c.ttl)
	c.mu.Unlock()
	if stale {
		c.Refresh(context.Background())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := 0.0
	if c.ok {
		up = 1
	}
	gauge(c.up, up)
	s := c.snap

	counts := map[[2]string]int{}
	for _, n := range s.Items {
		counts[[2]string{n.Batch, string(n.Status)}] += n.Count
	}
	for _, b := range s.ActiveBatches {
		for _, st := range upgrade.Statuses() {
			gauge(c.items, float64(counts[[2]string{b, string(st)}]), b, string(st))
		}
		gauge(c.stuck, float64(s.Stuck[b]), b)
	}

	lines := map[string]int64{}
	for _, st := range lineItemStatuses {
		lines[st] = 0
	}
	for st, n := range s.LineItems {
		lines[boundedLabel(strings.ReplaceAll(st, " ", "_"))] += n
	}
	for st, n := range lines {
		gauge(c.lineItems, float64(n), st)
	}

	for _, st := range upgrade.BatchStatuses() {
		gauge(c.batches, float64(s.Batches[string(st)]), string(st))
	}

	paused := map[string]float64{store.HoldAuth: 0, holdReason(store.OutageHold("")): 0}
	pausedFor := map[string]float64{}
	for name, active := range s.Holds {
		reason := holdReason(name)
		if active {
			paused[reason] = 1
			pausedFor[reason] = max(pausedFor[reason], float64(s.HoldSeconds[name]))
		} else if _, ok := paused[reason]; !ok {
			paused[reason] = 0
		}
	}
	for reason, v := range paused {
		gauge(c.paused, v, reason)
		gauge(c.pausedSeconds, pausedFor[reason], reason)
	}

	jobs := map[[2]string]int64{}
	kinds := map[string]bool{}
	for _, j := range s.RiverJobs {
		k := boundedLabel(j.Kind)
		kinds[k] = true
		jobs[[2]string{k, j.State}] += j.Count
	}
	for k := range kinds {
		for _, st := range riverStates {
			gauge(c.riverJobs, float64(jobs[[2]string{k, st}]), k, st)
		}
	}
	gauge(c.riverAvailable, float64(s.RiverAvailable))
	gauge(c.riverOldest, s.RiverOldestAvailable.Seconds())
	gauge(c.processesAlive, float64(s.ProcessesAlive))

	for _, r := range s.LearnedRates {
		gauge(c.learnedRate, r.LearnedPerSecond, boundedLabel(r.Limit))
	}
}

// holdReason is the reason label of a hold: its name, up to the colon for
// the outage holds of the endpoint families ("outage:transition" is
// "outage").
func holdReason(name string) string {
	reason, _, _ := strings.Cut(name, ":")
	return boundedLabel(reason)
}
