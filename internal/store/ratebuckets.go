package store

import (
	"context"
	"fmt"
	"time"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// TakeToken takes one token from rate bucket key (created full on first
// use) with the given capacity and refill rate, keeping reserve tokens back.
// It returns 0 when a token was taken, or how long until one will be there
// (or until a 429's pause ends).
func (s *Store) TakeToken(ctx context.Context, key string, capacity, refillPerSec, reserve float64) (time.Duration, error) {
	var secs float64
	if err := s.db.QueryRow(ctx, `select rate_take($1, $2, $3, $4)`, key, capacity, refillPerSec, reserve).Scan(&secs); err != nil {
		return 0, fmt.Errorf("take a token from %s: %w", key, err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// PauseBucket empties rate bucket key and pauses it for d, for every replica.
func (s *Store) PauseBucket(ctx context.Context, key string, d time.Duration) error {
	if _, err := s.db.Exec(ctx, `select rate_pause($1, $2)`, key, d.Seconds()); err != nil {
		return fmt.Errorf("pause %s: %w", key, err)
	}
	return nil
}

// BucketUse is how much of a rate bucket was used.
type BucketUse struct {
	Key       string
	Taken     int64
	Throttled int64
}

// BucketUses returns the use of every rate bucket, by key.
func (s *Store) BucketUses(ctx context.Context) ([]BucketUse, error) {
	rows, err := s.db.Query(ctx, `select key, taken, throttled from rate_buckets order by key`)
	if err != nil {
		return nil, fmt.Errorf("read rate buckets: %w", err)
	}
	defer rows.Close()
	var out []BucketUse
	for rows.Next() {
		var u BucketUse
		if err := rows.Scan(&u.Key, &u.Taken, &u.Throttled); err != nil {
			return nil, fmt.Errorf("read rate buckets: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// InFlight returns how many items of operation op are in progress at
// Partner Center (and not flagged stuck): the items being polled.
func (s *Store) InFlight(ctx context.Context, op upgrade.Operation) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `
		select count(*) from batch_items i join batches b on b.id = i.batch_id
		where i.status = 'in_progress' and i.stuck_at is null and b.operation = $1`, op).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s items in progress: %w", op, err)
	}
	return n, nil
}

// Durations returns, for each of quantiles (each in (0, 1]), the time
// within which that share of the last 200 finished pieces of work of
// operation op ended, counted from adoption; false when none finished yet.
// A piece of work ends when its line items say they were upgraded
// (upgradedDate, Partner Center's clock, never later than the poll that saw
// it), or else when a poll saw it final; so how often the service polled
// does not lengthen what it learns.
func (s *Store) Durations(ctx context.Context, op upgrade.Operation, quantiles []float64) ([]time.Duration, bool, error) {
	if len(quantiles) == 0 {
		return nil, false, nil
	}
	var secs []float64
	err := s.db.QueryRow(ctx, `
		with recent as (
		    select u.item_id, u.generation, u.created_at, u.finished_at
		    from upgrades u
		    join batch_items i on i.id = u.item_id
		    join batches b on b.id = i.batch_id
		    where u.finished_at is not null and b.operation = $1
		    order by u.finished_at desc limit 200)
		select percentile_cont($2::float8[]) within group (order by greatest(0, extract(epoch from
		           least(r.finished_at, coalesce(
		               (select max(l.upgraded_date) from line_items l
		                where l.item_id = r.item_id and l.generation = r.generation),
		               r.finished_at))
		           - r.created_at)))
		from recent r`, op, quantiles).Scan(&secs)
	if err != nil {
		return nil, false, fmt.Errorf("durations of %s: %w", op, err)
	}
	if secs == nil {
		return nil, false, nil
	}
	out := make([]time.Duration, len(secs))
	for i, v := range secs {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out, true, nil
}
