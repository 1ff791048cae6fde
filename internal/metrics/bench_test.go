package metrics

import (
	"context"
	_ "embed"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

//go:embed testdata/bench-1m.sql
var bench1M string

// BenchmarkScrape measures one GET /metrics as `serve` answers it: the
// database-backed gauges come from the snapshot its background refresher
// keeps, on a database of 1,000,000 items (testdata/bench-1m.sql).
// BenchmarkSnapshot measures that refresher's query. Run them with
// `make bench`.
func BenchmarkScrape(b *testing.B) {
	benchScrape(b, false)
}

// BenchmarkSnapshot measures one refresh of the database-backed gauges (the
// queries the background refresher runs once per TTL).
func BenchmarkSnapshot(b *testing.B) {
	benchScrape(b, true)
}

func benchScrape(b *testing.B, snapshotOnly bool) {
	ctx := context.Background()
	pool := storetest.NewPool(b)
	start := time.Now()
	if _, err := pool.Exec(ctx, bench1M); err != nil {
		b.Fatalf("load 1,000,000 items: %v", err)
	}
	// What autovacuum does on a live database: statistics and the
	// visibility map (index-only scans).
	if _, err := pool.Exec(ctx, "vacuum analyze"); err != nil {
		b.Fatalf("vacuum analyze: %v", err)
	}
	var items int
	if err := pool.QueryRow(ctx, "select count(*) from batch_items").Scan(&items); err != nil || items != 1_000_000 {
		b.Fatalf("want 1,000,000 items, have %d (%v)", items, err)
	}
	b.Logf("loaded %d items in %s", items, time.Since(start).Round(time.Second))

	reg := prometheus.NewRegistry()
	if _, err := New(reg, "bench"); err != nil {
		b.Fatal(err)
	}
	dbc := NewDBCollector(store.New(pool), time.Hour, DefaultMaxBatches, slog.New(slog.DiscardHandler))
	if err := reg.Register(dbc); err != nil {
		b.Fatal(err)
	}
	if snapshotOnly {
		dbc.Refresh(ctx) // warm PostgreSQL's caches
		b.ResetTimer()
		for b.Loop() {
			dbc.Refresh(ctx)
		}
		return
	}
	runCtx, cancel := context.WithCancel(ctx)
	b.Cleanup(cancel)
	go dbc.Run(runCtx)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	b.Cleanup(srv.Close)
	scrape := func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("scrape: HTTP %d", resp.StatusCode)
		}
	}
	scrape() // warm the connection pool and PostgreSQL's caches
	b.ResetTimer()
	for b.Loop() {
		scrape()
	}
}
