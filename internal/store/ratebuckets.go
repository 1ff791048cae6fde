package store

import (
	"context"
	"fmt"
	"time"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Take is one token request: bucket Key of limit Limit (Key equals Limit
// for a partner-wide limit), with the limit's configuration and how the
// governor learns it.
type Take struct {
	Key, Limit string
	// Configured is the configured rate, calls per second; Period the
	// seconds of it the burst holds; Headroom scales both (0, 1].
	Configured, Period, Headroom float64
	// Reserve is the share of the burst the call leaves behind.
	Reserve float64
	// Step is what an interval of Interval seconds of calls without a 429
	// adds to the learned rate, in calls per second.
	Step, Interval float64
}

// TakeToken takes one token from rate bucket t.Key (created full on first
// use), its capacity and refill following the limit's learned rate. It
// returns 0 when a token was taken, or how long until one will be there
// (or until a 429's pause ends).
func (s *Store) TakeToken(ctx context.Context, t Take) (time.Duration, error) {
	var secs float64
	if err := s.db.QueryRow(ctx, `select rate_take_learned($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Key, t.Limit, t.Configured, t.Period, t.Headroom, t.Reserve, t.Step, t.Interval).Scan(&secs); err != nil {
		return 0, fmt.Errorf("take a token from %s: %w", t.Key, err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// Throttle is a 429 on bucket Key of limit Limit.
type Throttle struct {
	Key, Limit string
	// Pause is the 429's Retry-After.
	Pause time.Duration
	// Configured, Period and Headroom as in Take.
	Configured, Period, Headroom float64
	// Decrease multiplies the learned rate when the bucket had budget; it
	// never goes below Floor (calls per second).
	Decrease, Floor float64
}

// ThrottleBucket empties rate bucket t.Key and pauses it for t.Pause, for
// every replica, and lowers its limit's learned rate when the bucket had
// budget (it had given tokens and no earlier 429 paused it). It reports
// whether the rate was lowered.
func (s *Store) ThrottleBucket(ctx context.Context, t Throttle) (bool, error) {
	var lowered bool
	if err := s.db.QueryRow(ctx, `select rate_throttle($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Key, t.Limit, t.Pause.Seconds(), t.Configured, t.Period, t.Headroom, t.Decrease, t.Floor).Scan(&lowered); err != nil {
		return false, fmt.Errorf("pause %s: %w", t.Key, err)
	}
	return lowered, nil
}

// LearnedRate is what the governor learned about one rate limit.
type LearnedRate struct {
	// Limit is the limit's name (rate_limits.limits).
	Limit string `json:"limit"`
	// ConfiguredPerSecond is the configured rate and LearnedPerSecond the
	// rate the buckets follow now (both before headroom, calls per
	// second); learned is never above configured.
	ConfiguredPerSecond float64 `json:"configured_per_second"`
	LearnedPerSecond    float64 `json:"learned_per_second"`
	// Lowered counts the 429s that lowered it; ChangedAt is its last
	// change (after a 429: when the 429's pause ends).
	Lowered   int64     `json:"lowered"`
	ChangedAt time.Time `json:"changed_at"`
}

// Below reports whether the learned rate is below the configured one.
func (r LearnedRate) Below() bool { return r.LearnedPerSecond < r.ConfiguredPerSecond }

// LearnedRates returns every rate limit used so far, by name.
func (s *Store) LearnedRates(ctx context.Context) ([]LearnedRate, error) {
	rows, err := s.db.Query(ctx, `
		select key, configured_per_sec, least(learned_per_sec, configured_per_sec), lowered, learned_at
		from rate_buckets
		where learned_per_sec is not null and configured_per_sec is not null
		order by key`)
	if err != nil {
		return nil, fmt.Errorf("read learned rates: %w", err)
	}
	defer rows.Close()
	var out []LearnedRate
	for rows.Next() {
		var r LearnedRate
		var at *time.Time
		if err := rows.Scan(&r.Limit, &r.ConfiguredPerSecond, &r.LearnedPerSecond, &r.Lowered, &at); err != nil {
			return nil, fmt.Errorf("read learned rates: %w", err)
		}
		if at != nil {
			r.ChangedAt = *at
		}
		out = append(out, r)
	}
	return out, rows.Err()
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
