package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

// learned returns what the database holds about limit name.
func learned(t *testing.T, pool *pgxpool.Pool, name string) store.LearnedRate {
	t.Helper()
	rates, err := store.New(pool).LearnedRates(context.Background())
	require.NoError(t, err)
	for _, r := range rates {
		if r.Limit == name {
			return r
		}
	}
	t.Fatalf("no learned rate for limit %s in %+v", name, rates)
	return store.LearnedRate{}
}

// bucketRate returns the capacity and refill rate bucket key was last
// taken with.
func bucketRate(t *testing.T, pool *pgxpool.Pool, key string) (capacity, refill float64) {
	t.Helper()
	require.NoError(t, pool.QueryRow(context.Background(),
		`select capacity, refill_per_sec from rate_buckets where key = $1`, key).Scan(&capacity, &refill))
	return capacity, refill
}

// mustTake takes a token of op for customer and fails unless it went.
func mustTake(t *testing.T, g *ratelimit.Governor, op, customer string) {
	t.Helper()
	wait, err := g.Take(context.Background(), op, customer, ratelimit.Work)
	require.NoError(t, err)
	require.Zero(t, wait, "a token of %s for %q", op, customer)
}

// takeWaiting takes a token of op for customer, waiting for it as long as
// the governor says (up to 10 s).
func takeWaiting(t *testing.T, g *ratelimit.Governor, op, customer string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wait, err := g.Take(context.Background(), op, customer, ratelimit.Work)
		require.NoError(t, err)
		if wait == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "no token of %s within 10 s", op)
		time.Sleep(wait)
	}
}

func TestA429WithBudgetLowersTheRateForEveryReplica(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	limits := testLimits(100, 10*time.Second) // 10 calls a second configured
	a, poolA := replica(t, dbURL, limits)
	b, poolB := replica(t, dbURL, limits)
	ctx := context.Background()

	mustTake(t, a, "product_upgrade_create", "")
	r := learned(t, poolA, "create")
	require.InDelta(t, 10, r.ConfiguredPerSecond, 1e-9)
	require.InDelta(t, 10, r.LearnedPerSecond, 1e-9, "nothing learned yet")
	require.False(t, r.Below())

	// The call that had the token is answered 429: the limit is lower than
	// the governor thought.
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 300*time.Millisecond))
	r = learned(t, poolB, "create")
	require.InDelta(t, 10*ratelimit.Decrease, r.LearnedPerSecond, 1e-9, "lowered multiplicatively")
	require.EqualValues(t, 1, r.Lowered)
	require.True(t, r.Below())

	// Retry-After is honoured by the other replica too, and once it is over
	// that replica's bucket follows the lowered rate.
	wait, err := b.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
	require.NoError(t, err)
	require.Positive(t, wait, "paused for Retry-After")
	takeWaiting(t, b, "product_upgrade_create", "")
	capacity, refill := bucketRate(t, poolB, "create")
	require.InDelta(t, 7, refill, 1e-9, "refills at the learned rate (headroom 1)")
	require.InDelta(t, 70, capacity, 1e-9, "and its burst shrinks with it")
}

func TestA429WithoutBudgetLowersNothing(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	limits := testLimits(100, 10*time.Second)
	a, pool := replica(t, dbURL, limits)
	b, _ := replica(t, dbURL, limits)
	ctx := context.Background()

	// A bucket that never gave a token: the throttled call did not go out
	// on the governor's budget.
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 50*time.Millisecond))
	r := learned(t, pool, "create")
	require.InDelta(t, 10, r.LearnedPerSecond, 1e-9, "no token was taken: nothing learned")
	require.Zero(t, r.Lowered)

	// A 429 that lowers the rate, then more 429s of calls that were in
	// flight while the bucket was paused and empty: one decrease, from
	// either replica.
	takeWaiting(t, a, "product_upgrade_create", "")
	takeWaiting(t, b, "product_upgrade_create", "")
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", time.Second))
	require.NoError(t, b.Throttled(ctx, "product_upgrade_create", "", time.Second))
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", time.Second))
	r = learned(t, pool, "create")
	require.InDelta(t, 7, r.LearnedPerSecond, 1e-9, "the paused bucket's 429s lower nothing more")
	require.EqualValues(t, 1, r.Lowered)

	var throttled int64
	require.NoError(t, pool.QueryRow(ctx, `select throttled from rate_buckets where key = 'create'`).Scan(&throttled))
	require.EqualValues(t, 4, throttled, "every 429 still pauses the bucket")
}

func TestTheRateRecoversSlowlyUpToTheConfiguredOne(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	const calls, per = 20, time.Second // 20/s; an increase interval is 100 ms, +0.4/s each
	limits := testLimits(calls, per)
	a, pool := replica(t, dbURL, limits)
	b, _ := replica(t, dbURL, limits)
	ctx := context.Background()

	mustTake(t, a, "product_upgrade_create", "")
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 100*time.Millisecond))
	require.InDelta(t, 14, learned(t, pool, "create").LearnedPerSecond, 1e-9)

	// Both replicas use every token they get, for one second.
	step := ratelimit.IncreaseShare * calls / per.Seconds()
	interval := per / ratelimit.IncreasePeriods
	start := time.Now()
	use := func(until time.Time) {
		for time.Now().Before(until) {
			for _, g := range []*ratelimit.Governor{a, b} {
				wait, err := g.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
				require.NoError(t, err)
				if wait > 0 {
					time.Sleep(min(wait, 20*time.Millisecond))
				}
			}
		}
	}
	use(start.Add(time.Second))
	r := learned(t, pool, "create")
	elapsed := time.Since(start)
	require.Greater(t, r.LearnedPerSecond, 14.0, "calls going through raise the rate")
	// Additively: at most one step an interval, the first interval
	// counted from the end of Retry-After.
	require.LessOrEqual(t, r.LearnedPerSecond, 14+step*float64(elapsed/interval)+1e-9, "slowly: one step an interval")
	require.Less(t, r.LearnedPerSecond, float64(calls), "not back yet after one second")

	// 15 steps bring it back; it never goes past the configured rate.
	use(time.Now().Add(2 * time.Second))
	r = learned(t, pool, "create")
	require.InDelta(t, float64(calls), r.LearnedPerSecond, 1e-9, "back at, and not above, the configured rate")
	require.False(t, r.Below())
}

func TestARateNobodyUsesIsNotRaised(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	a, pool := replica(t, dbURL, testLimits(20, time.Second))
	ctx := context.Background()
	mustTake(t, a, "product_upgrade_create", "")
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 10*time.Millisecond))
	time.Sleep(1200 * time.Millisecond) // the bucket fills up again (14 tokens)

	// A trickle of calls that leaves the bucket more than half full says
	// nothing about whether 14 a second is too low.
	for range 8 {
		mustTake(t, a, "product_upgrade_create", "")
		time.Sleep(150 * time.Millisecond)
	}
	require.InDelta(t, 14, learned(t, pool, "create").LearnedPerSecond, 1e-9)
}

func TestTheLearnedRateStopsAtTheFloor(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	// 100 calls a second; an increase interval (1 s) is longer than the
	// whole descent, so nothing is added back meanwhile.
	a, pool := replica(t, dbURL, testLimits(1000, 10*time.Second))
	ctx := context.Background()
	prev := 100.0
	for i := range 12 {
		takeWaiting(t, a, "product_upgrade_create", "")
		require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 5*time.Millisecond))
		r := learned(t, pool, "create")
		require.GreaterOrEqual(t, r.LearnedPerSecond, 100*ratelimit.FloorShare-1e-9, "429 number %d", i+1)
		require.Less(t, r.LearnedPerSecond, prev, "429 number %d: the bucket had budget", i+1)
		prev = r.LearnedPerSecond
		if prev == 100*ratelimit.FloorShare {
			break
		}
	}
	// 0.7^12 of 100/s would be 1.4/s; the floor is 5 % of it.
	require.InDelta(t, 100*ratelimit.FloorShare, prev, 1e-9)
	takeWaiting(t, a, "product_upgrade_create", "")
	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 5*time.Millisecond))
	require.InDelta(t, 100*ratelimit.FloorShare, learned(t, pool, "create").LearnedPerSecond, 1e-9, "not below the floor")
}

// Partner Center's per-customer limit is the same for every customer: what
// one customer's 429 teaches applies to every customer's bucket, in every
// replica.
func TestAPerCustomerLimitIsLearnedForEveryCustomer(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	limits := testLimits(100, 10*time.Second)
	a, pool := replica(t, dbURL, limits)
	b, _ := replica(t, dbURL, limits)
	ctx := context.Background()

	mustTake(t, a, "transition_create", "C1")
	require.NoError(t, a.Throttled(ctx, "transition_create", "C1", time.Minute))
	r := learned(t, pool, "subs")
	require.InDelta(t, 7, r.LearnedPerSecond, 1e-9)

	mustTake(t, b, "transition_list", "C2") // another customer: not paused
	capacity, refill := bucketRate(t, pool, "subs/c2")
	require.InDelta(t, 7, refill, 1e-9, "another customer's bucket follows the learned rate")
	require.InDelta(t, 70, capacity, 1e-9)
	// The partner-wide limit is another limit, untouched.
	mustTake(t, b, "product_upgrade_create", "")
	require.InDelta(t, 10, learned(t, pool, "create").LearnedPerSecond, 1e-9)
}
