// Command rivernoop measures River's own throughput on a database the
// orchestrator already migrated: it inserts -jobs no-op jobs with InsertMany
// (before the client starts), runs a river.Client with -workers workers on
// the default queue until every job completed, and prints one JSON line:
// {"jobs": K, "workers": W, "seconds": S, "jobs_per_sec": K/S}.
// The clock runs from the client's Start to the last completion event. The
// client uses serve's FetchCooldown (50 ms) and FetchPollInterval (100 ms):
// with the defaults (100 ms) River itself tops out near MaxWorkers per 100 ms.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// NoopArgs is a job that does nothing.
type NoopArgs struct {
	N int `json:"n"`
}

// Kind implements river.JobArgs.
func (NoopArgs) Kind() string { return "benchkit_noop" }

// NoopWorker does nothing.
type NoopWorker struct {
	river.WorkerDefaults[NoopArgs]
}

// Work implements river.Worker.
func (*NoopWorker) Work(context.Context, *river.Job[NoopArgs]) error { return nil }

func main() {
	dbURL := flag.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL (migrated by `orchestrator migrate`)")
	jobs := flag.Int("jobs", 20000, "no-op jobs to insert and work")
	workers := flag.Int("workers", 20, "MaxWorkers of the default queue (serve's workers.max_workers)")
	maxConns := flag.Int("max-conns", 16, "pool size (serve's database_max_conns)")
	// serve's River client settings (internal/service/service.go).
	cooldown := flag.Duration("fetch-cooldown", 50*time.Millisecond, "River FetchCooldown (serve: 50ms)")
	pollInterval := flag.Duration("fetch-poll-interval", 100*time.Millisecond, "River FetchPollInterval (serve: 100ms)")
	flag.Parse()
	if err := run(*dbURL, *jobs, *workers, *maxConns, *cooldown, *pollInterval); err != nil {
		fmt.Fprintln(os.Stderr, "rivernoop:", err)
		os.Exit(1)
	}
}

func run(dbURL string, jobs, workers, maxConns int, cooldown, pollInterval time.Duration) error {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	ws := river.NewWorkers()
	river.AddWorker(ws, &NoopWorker{})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:           ws,
		FetchCooldown:     cooldown,
		FetchPollInterval: pollInterval,
	})
	if err != nil {
		return err
	}
	const chunk = 5000
	for i := 0; i < jobs; i += chunk {
		params := make([]river.InsertManyParams, 0, chunk)
		for j := i; j < min(i+chunk, jobs); j++ {
			params = append(params, river.InsertManyParams{Args: NoopArgs{N: j}})
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()

	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return err
	}
	done := 0
	var last time.Time
	timeout := time.After(5 * time.Minute)
	for done < jobs {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("event channel closed after %d jobs", done)
			}
			if ev.Job != nil && ev.Job.Kind == (NoopArgs{}).Kind() {
				done++
				last = time.Now()
			}
		case <-timeout:
			return fmt.Errorf("timed out after %d of %d jobs", done, jobs)
		}
	}
	secs := last.Sub(start).Seconds()
	stopCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	_ = client.Stop(stopCtx)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"jobs": jobs, "workers": workers, "seconds": secs, "jobs_per_sec": float64(jobs) / secs,
	})
}
