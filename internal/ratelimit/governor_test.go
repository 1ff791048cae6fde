package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

// replica is one process's governor on the shared database.
func replica(t *testing.T, dbURL string, limits []ratelimit.Limit) (*ratelimit.Governor, *pgxpool.Pool) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	g, err := ratelimit.New(store.New(pool), limits, 1, 0.2)
	require.NoError(t, err)
	return g, pool
}

func testLimits(calls int, per time.Duration) []ratelimit.Limit {
	return []ratelimit.Limit{
		{Name: "create", Calls: calls, Per: per, Scope: ratelimit.ScopePartner, Operations: []string{"product_upgrade_create"}},
		{Name: "subs", Calls: calls, Per: per, Scope: ratelimit.ScopeCustomer, Operations: []string{"transition_create", "transition_list"}},
	}
}

func TestTwoReplicasNeverExceedABucketTogether(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	const calls, per = 20, 2 * time.Second
	a, _ := replica(t, dbURL, testLimits(calls, per))
	b, _ := replica(t, dbURL, testLimits(calls, per))

	var took atomic.Int64
	var mu sync.Mutex
	var times []time.Time
	start := time.Now()
	deadline := start.Add(3 * time.Second)
	var wg sync.WaitGroup
	for _, g := range []*ratelimit.Governor{a, b} {
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					wait, err := g.Take(context.Background(), "product_upgrade_create", "", ratelimit.Work)
					if err != nil {
						t.Error(err)
						return
					}
					if wait > 0 {
						time.Sleep(min(wait, time.Until(deadline)+time.Millisecond))
						continue
					}
					took.Add(1)
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	// Tokens are taken only before the deadline.
	window := deadline.Sub(start).Seconds()
	allowed := calls + window*calls/per.Seconds()
	require.LessOrEqual(t, float64(took.Load()), allowed+1, "burst plus refill, shared by both replicas")
	require.GreaterOrEqual(t, took.Load(), int64(calls), "at least the burst is usable")

	// In any window of one period, at most the burst plus what refilled.
	mu.Lock()
	defer mu.Unlock()
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < per; j++ {
			n++
		}
		require.LessOrEqual(t, n, 2*calls+1, "window starting at call %d", i)
	}
}

func TestA429PausesEveryReplica(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	a, _ := replica(t, dbURL, testLimits(100, time.Minute))
	b, _ := replica(t, dbURL, testLimits(100, time.Minute))
	ctx := context.Background()

	wait, err := b.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
	require.NoError(t, err)
	require.Zero(t, wait, "a full bucket")

	require.NoError(t, a.Throttled(ctx, "product_upgrade_create", "", 5*time.Second))
	wait, err = b.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
	require.NoError(t, err)
	require.InDelta(t, 5, wait.Seconds(), 0.5, "the other replica waits for Retry-After")

	// Per-customer buckets pause only that customer.
	require.NoError(t, a.Throttled(ctx, "transition_create", "C1", 5*time.Second))
	wait, err = b.Take(ctx, "transition_list", "c1", ratelimit.Work)
	require.NoError(t, err)
	require.Positive(t, wait, "same customer, same bucket (ids compared case-insensitively)")
	wait, err = b.Take(ctx, "transition_list", "c2", ratelimit.Work)
	require.NoError(t, err)
	require.Zero(t, wait, "another customer is not throttled")

	// Unlimited operations always go.
	wait, err = b.Take(ctx, "token", "", ratelimit.Work)
	require.NoError(t, err)
	require.Zero(t, wait)
}

func TestADeadReplicaLeaksNoBudget(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	const calls, per = 10, time.Second
	a, poolA := replica(t, dbURL, testLimits(calls, per))
	ctx := context.Background()
	took := 0
	for {
		wait, err := a.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
		require.NoError(t, err)
		if wait > 0 {
			break
		}
		took++
	}
	require.GreaterOrEqual(t, took, calls, "the burst")
	poolA.Close() // the replica dies; it held no lease on the budget

	b, _ := replica(t, dbURL, testLimits(calls, per))
	time.Sleep(per + 50*time.Millisecond)
	for i := range calls {
		wait, err := b.Take(ctx, "product_upgrade_create", "", ratelimit.Work)
		require.NoError(t, err)
		require.Zero(t, wait, "after one period the whole burst is back (call %d)", i)
	}
}

func TestPollsLeaveTheLastTokensToWork(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	g, _ := replica(t, dbURL, testLimits(10, time.Hour)) // no refill to speak of
	take := taker(t, g)
	// transition_list shares the "subs" limit with transition_create.
	require.Equal(t, 8, take("transition_list", ratelimit.Poll), "polls stop at the 20% reserve")
	require.Equal(t, 2, take("transition_create", ratelimit.Work), "work still gets the reserve")

	// product_upgrade_create has the "create" limit to itself: nobody to
	// leave a reserve to.
	require.Equal(t, 10, take("product_upgrade_create", ratelimit.Poll), "polls of a limit of their own use it all")
}

func TestSparePollsOnlySpendTheUpperPart(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	g, _ := replica(t, dbURL, testLimits(20, time.Hour)) // no refill to speak of
	take := taker(t, g)
	require.Equal(t, 15, take("product_upgrade_create", ratelimit.Spare), "spare polls leave a quarter of the burst")
	require.Equal(t, 5, take("product_upgrade_create", ratelimit.Poll), "other polls get it")

	require.Equal(t, 15, take("transition_list", ratelimit.Spare), "and the poll reserve, when larger, is left too")
	require.Equal(t, 1, take("transition_list", ratelimit.Poll))
	require.Equal(t, 4, take("transition_create", ratelimit.Work))
}

// taker returns a function that takes tokens of op for one customer, in
// class, until none is left, and returns how many it took.
func taker(t *testing.T, g *ratelimit.Governor) func(op string, class ratelimit.Class) int {
	t.Helper()
	return func(op string, class ratelimit.Class) int {
		n := 0
		for {
			wait, err := g.Take(context.Background(), op, "customer-1", class)
			require.NoError(t, err)
			if wait > 0 {
				return n
			}
			n++
		}
	}
}

func TestPollRateOnlyForSharedPartnerLimits(t *testing.T) {
	t.Parallel()
	limits := []ratelimit.Limit{
		{Name: "status", Calls: 60, Per: time.Minute, Scope: ratelimit.ScopePartner, Operations: []string{"product_upgrade_status"}},
		{Name: "shared", Calls: 600, Per: time.Minute, Scope: ratelimit.ScopePartner, Operations: []string{"transition_create", "transition_list"}},
		{Name: "per-customer", Calls: 600, Per: time.Minute, Scope: ratelimit.ScopeCustomer, Operations: []string{"subscription_upgrade_list", "subscription_upgrade_perform"}},
	}
	g, err := ratelimit.New(nil, limits, 0.5, 0.2)
	require.NoError(t, err)
	_, ok := g.PollRate("product_upgrade_status")
	require.False(t, ok, "its own bucket paces it")
	rate, ok := g.PollRate("transition_list")
	require.True(t, ok)
	require.InDelta(t, 600*0.5*0.8/60, rate, 1e-9, "headroom and reserve applied")
	_, ok = g.PollRate("subscription_upgrade_list")
	require.False(t, ok, "per-customer limits are not partner-wide")
}

func TestStartingCallsLeaveTheReserveToFinishingOnes(t *testing.T) {
	t.Parallel()
	dbURL := storetest.NewDatabase(t)
	limits := []ratelimit.Limit{{Name: "subs", Calls: 10, Per: time.Hour, Scope: ratelimit.ScopeCustomer, // no refill to speak of
		Operations: []string{"subscription_upgrade_list", "subscription_upgrade_perform"}, Starts: []string{"subscription_upgrade_list"}}}
	g, _ := replica(t, dbURL, limits)
	take := taker(t, g)
	require.Equal(t, 8, take("subscription_upgrade_list", ratelimit.Work), "lists stop at the 20% reserve")
	require.Equal(t, 2, take("subscription_upgrade_perform", ratelimit.Work), "performs of items already read get it")

	_, err := ratelimit.New(nil, []ratelimit.Limit{{Name: "x", Calls: 1, Per: time.Second, Scope: ratelimit.ScopePartner,
		Operations: []string{"a"}, Starts: []string{"b"}}}, 1, 0.2)
	require.ErrorContains(t, err, "rate limit x: starting operation b is not one of its operations")
}
