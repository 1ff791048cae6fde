package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// MetricsSnapshot is what the database-backed gauges of docs/metrics.md
// show, read by MetricsSnapshot in two queries, and the rate limits' rows
// (one a limit).
type MetricsSnapshot struct {
	// ActiveBatches are the batches the workers are moving (status running
	// or canary), the newest first, at most the requested number.
	ActiveBatches []string
	// Items counts the items of ActiveBatches by status (only non-zero
	// counts).
	Items []ActiveStatusCount
	// Stuck counts, per active batch name, the items in progress flagged
	// stuck (only non-zero counts).
	Stuck map[string]int64
	// LineItems counts the line items of the current attempt of the items
	// of ActiveBatches by their status as stored (Partner Center's).
	LineItems map[string]int64
	// Batches counts every batch by status.
	Batches map[string]int64
	// Holds says, per hold name, whether it is in force now (see
	// Hold.InForce), and HoldSeconds how long a hold in force has been:
	// since its outage began for an outage hold, since it was last placed
	// for another.
	Holds       map[string]bool
	HoldSeconds map[string]int64
	// RiverJobs counts River jobs by kind and state.
	RiverJobs []RiverJobCount
	// RiverAvailable is the number of available jobs whose scheduled_at has
	// passed, and RiverOldestAvailable how long ago the oldest of them
	// became runnable (0 when there is none).
	RiverAvailable       int64
	RiverOldestAvailable time.Duration
	// ProcessesAlive counts serve processes whose heartbeat row is
	// neither stopped nor declared dead.
	ProcessesAlive int64
	// LearnedRates are the rate limits used so far and what the governor
	// learned about them.
	LearnedRates []LearnedRate
}

// RiverJobCount is the number of River jobs of one kind in one state.
type RiverJobCount struct {
	Kind  string
	State string
	Count int64
}

// Row kinds of metricsAppQuery.
const (
	mrActive    = "active"
	mrItems     = "items"
	mrStuck     = "stuck"
	mrLineItems = "line_items"
	mrBatches   = "batches"
	mrHolds     = "holds"
	mrProcesses = "processes"
)

// metricsAppQuery reads every orchestrator-table gauge in one statement.
// Costs (see docs/benchmarks.md): the active batches come from at most a
// few hundred batches rows; items are counted per status over each active
// batch's rows (found through the BRIN index on batch_id); stuck items are
// the in_progress ones of those batches (batch_items_in_progress_idx, then
// stuck_at); line items are looked up for each started item of those
// batches by (item_id, generation) through
// line_items_item_generation_position_key, which grows with the finished
// items of the active batches (the collector spaces its queries out when
// they get slow).
const metricsAppQuery = `
with active as (
    select id, name from batches
    where status in ('running', 'canary')
    order by id desc
    limit $1
)
select 'active' as kind, a.name as a, '' as b, 0::bigint as n from active a
union all
select 'items', a.name, c.status, c.n
from active a cross join lateral (
    select i.status, count(*) as n from batch_items i
    where i.batch_id = a.id
    group by i.status) c
union all
select 'stuck', a.name, '', c.n
from active a cross join lateral (
    select count(*) as n from batch_items i
    where i.batch_id = a.id and i.status = 'in_progress' and i.stuck_at is not null) c
where c.n > 0
union all
select 'line_items', '', c.status, sum(c.n)::bigint
from active a cross join lateral (
    select lower(l.status) as status, count(*) as n
    from batch_items i
    cross join lateral (
        select li.status from line_items li
        where li.item_id = i.id and li.generation = i.generation
        offset 0) l
    where i.batch_id = a.id and i.status in ('in_progress', 'completed', 'failed')
    group by lower(l.status)) c
group by c.status
union all
select 'batches', '', status, count(*) from batches group by status
union all
select 'holds', name, '',
    case when until > now() or name like 'outage:%'
         then greatest(1, extract(epoch from now() - case when name like 'outage:%' then created_at else updated_at end))::bigint
         else 0 end
from holds
union all
select 'processes', '', '', count(*) from processes where dead_at is null and stopped_at is null`

// metricsRiverQuery reads the River gauges in one statement.
const metricsRiverQuery = `
select kind, state::text, count(*), 0::float8
from river_job
group by kind, state
union all
select '', '', count(*), coalesce(extract(epoch from now() - min(scheduled_at)), 0)::float8
from river_job
where state = 'available' and scheduled_at <= now()`

// MetricsSnapshot reads the database-backed gauges: two queries, run
// concurrently, for at most maxBatches active batches, then the learned
// rates (an index scan of a few rows).
func (s *Store) MetricsSnapshot(ctx context.Context, maxBatches int) (MetricsSnapshot, error) {
	snap := MetricsSnapshot{
		Stuck:       map[string]int64{},
		LineItems:   map[string]int64{},
		Batches:     map[string]int64{},
		Holds:       map[string]bool{},
		HoldSeconds: map[string]int64{},
	}
	var (
		wg                sync.WaitGroup
		appErr, riverErr  error
		riverRows         []RiverJobCount
		available         int64
		oldestAvailableSc float64
	)
	wg.Go(func() {
		riverRows, available, oldestAvailableSc, riverErr = s.riverMetrics(ctx)
	})
	appErr = s.appMetrics(ctx, maxBatches, &snap)
	if appErr == nil {
		snap.LearnedRates, appErr = s.LearnedRates(ctx)
	}
	wg.Wait()
	if appErr != nil {
		return MetricsSnapshot{}, appErr
	}
	if riverErr != nil {
		return MetricsSnapshot{}, riverErr
	}
	snap.RiverJobs = riverRows
	snap.RiverAvailable = available
	snap.RiverOldestAvailable = time.Duration(oldestAvailableSc * float64(time.Second))
	return snap, nil
}

func (s *Store) appMetrics(ctx context.Context, maxBatches int, snap *MetricsSnapshot) error {
	tx, err := s.noJITTx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, metricsAppQuery, maxBatches)
	if err != nil {
		return fmt.Errorf("metrics: query orchestrator tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, a, b string
		var n int64
		if err := rows.Scan(&kind, &a, &b, &n); err != nil {
			return fmt.Errorf("metrics: query orchestrator tables: %w", err)
		}
		switch kind {
		case mrActive:
			snap.ActiveBatches = append(snap.ActiveBatches, a)
		case mrItems:
			snap.Items = append(snap.Items, ActiveStatusCount{Batch: a, Status: upgrade.Status(b), Count: int(n)})
		case mrStuck:
			snap.Stuck[a] = n
		case mrLineItems:
			snap.LineItems[b] += n
		case mrBatches:
			snap.Batches[b] = n
		case mrHolds:
			snap.Holds[a] = n > 0
			snap.HoldSeconds[a] = n
		case mrProcesses:
			snap.ProcessesAlive = n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("metrics: query orchestrator tables: %w", err)
	}
	return nil
}

func (s *Store) riverMetrics(ctx context.Context) (counts []RiverJobCount, available int64, oldest float64, err error) {
	tx, err := s.noJITTx(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, metricsRiverQuery)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("metrics: query river_job: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c RiverJobCount
		var age float64
		if err := rows.Scan(&c.Kind, &c.State, &c.Count, &age); err != nil {
			return nil, 0, 0, fmt.Errorf("metrics: query river_job: %w", err)
		}
		if c.Kind == "" && c.State == "" {
			available, oldest = c.Count, age
			continue
		}
		counts = append(counts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("metrics: query river_job: %w", err)
	}
	return counts, available, oldest, nil
}

// noJITTx begins a read-only transaction with JIT compilation off: the
// metrics queries are many cheap index lookups whose summed cost estimate
// crosses jit_above_cost, and compiling them costs more than running them.
func (s *Store) noJITTx(ctx context.Context) (pgx.Tx, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("metrics: begin: %w", err)
	}
	if _, err := tx.Exec(ctx, "set transaction read only; set local jit = off"); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("metrics: set jit off: %w", err)
	}
	return tx, nil
}

// ActiveStatusCount is the number of items in one status of an active batch.
type ActiveStatusCount struct {
	Batch  string
	Status upgrade.Status
	Count  int
}
