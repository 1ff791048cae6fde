package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// lostAnswerConfig gives up on a Partner Center call after 1s, so that a
// simulated latency above it is a timeout, and never holds work under an
// outage hold (the faults below come in streaks by design).
const lostAnswerConfig = noRateLimits + `
database_max_conns: 8
workers:
  max_workers: 10
  max_attempts: 25
  job_timeout: 10s
  rescue_stuck_jobs_after: 12s
  shutdown_timeout: 5s
  retry_base: 100ms
  retry_max: 500ms
outage:
  after_failures: 100000
polling:
  initial_interval: 200ms
  max_interval: 1s
reconcile:
  interval: 1s
  stall_after: 3s
halt:
  failure_rate: 0
partner_center:
  timeout: 1s
log:
  level: warn
`

// syncOp is one of the two operations Partner Center answers
// synchronously, as the tests below drive it.
type syncOp struct {
	name      string
	header    string
	simCreate string // the simulator's operation of the create (perform) call
	simRead   string // the simulator's operation of the eligibility read
	pcCreate  string // the client's operation of the create, as api_calls records it
}

var syncOps = []syncOp{
	{"subscription_upgrade", "customer_id,subscription_id,target_offer_id,upgrade_type",
		simulator.OpSubscriptionUpgradeCreate, simulator.OpSubscriptionUpgrades, partnercenter.OpSubscriptionUpgradePerform},
	{"transition", "customer_id,subscription_id,transition_type",
		simulator.OpTransitionCreate, simulator.OpTransitionEligibilities, partnercenter.OpTransitionCreate},
}

// pair is a customer's subscription.
type pair struct{ customer, subscription string }

// workablePairs returns n pairs the simulator lets op do with one eligible
// target (upgrade_only, transition_only), each completing, and the CSV
// lines importing them.
func workablePairs(t *testing.T, sim *simulator.Simulator, op syncOp, n int) ([]pair, string) {
	t.Helper()
	var pairs []pair
	lines := []string{op.header}
	for range 100 * n {
		if len(pairs) == n {
			break
		}
		c, s := uuid.NewString(), uuid.NewString()
		switch op.name {
		case "subscription_upgrade":
			if len(sim.PredictSubscriptionUpgrade(c, s).EligibleOfferIDs()) != 1 {
				continue
			}
			lines = append(lines, c+","+s+",,upgrade_only")
		default:
			p := sim.PredictTransition(c, s)
			only := 0
			for _, tg := range p.Targets {
				for _, typ := range tg.EligibleTypes {
					if typ == "transition_only" {
						only++
					}
				}
			}
			if only != 1 || p.Fails || p.ConvertedThenFails || p.UnknownStatus != "" {
				continue
			}
			lines = append(lines, c+","+s+",transition_only")
		}
		pairs = append(pairs, pair{c, s})
	}
	require.Len(t, pairs, n, "the simulator has enough workable subscriptions")
	path := filepath.Join(t.TempDir(), op.name+".csv")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return pairs, path
}

// count returns how many upgrades or transitions the simulator made for p.
func count(sim *simulator.Simulator, op syncOp, p pair) int {
	if op.name == "subscription_upgrade" {
		return sim.SubscriptionUpgradeCount(p.customer, p.subscription)
	}
	return sim.TransitionCount(p.customer, p.subscription)
}

// itemTruth is what the database says of one item.
type itemTruth struct {
	status, errorCode, upgradeID string
	requestIDs                   int // distinct MS-RequestIds of its create calls
	creates                      int // create calls recorded
}

func (e *e2e) items(batch, createOp string) map[pair]itemTruth {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	require.NoError(e.t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		select i.customer_id::text, i.subscription_id::text, i.status, i.error_code, coalesce(u.upgrade_id, ''),
		       (select count(distinct c.request_id) from api_calls c where c.item_id = i.id and c.operation = $2),
		       (select count(*) from api_calls c where c.item_id = i.id and c.operation = $2)
		from batch_items i join batches b on b.id = i.batch_id
		left join upgrades u on u.item_id = i.id and u.generation = i.generation
		where b.name = $1`, batch, createOp)
	require.NoError(e.t, err)
	out := map[pair]itemTruth{}
	for rows.Next() {
		var p pair
		var it itemTruth
		require.NoError(e.t, rows.Scan(&p.customer, &p.subscription, &it.status, &it.errorCode, &it.upgradeID, &it.requestIDs, &it.creates))
		out[p] = it
	}
	require.NoError(e.t, rows.Err())
	return out
}

// requireExactlyOnce checks every item against the simulator: completed,
// one upgrade or transition, every create call of the item under one
// MS-RequestId, and for a subscription upgrade the target subscription the
// simulator made.
func (e *e2e) requireExactlyOnce(batch string, op syncOp, pairs []pair) map[pair]itemTruth {
	e.t.Helper()
	require.Empty(e.t, e.sim.Stats().Duplicates, "nothing done twice")
	got := e.items(batch, op.pcCreate)
	require.Len(e.t, got, len(pairs))
	for _, p := range pairs {
		it := got[p]
		require.Equal(e.t, "completed", it.status, "%s %+v", p, it)
		require.Equal(e.t, 1, count(e.sim, op, p), "%s done once", p)
		require.Equal(e.t, 1, it.requestIDs, "%s: every create call under one MS-RequestId (%d calls)", p, it.creates)
		if op.name == "subscription_upgrade" {
			pred := e.sim.PredictSubscriptionUpgrade(p.customer, p.subscription)
			require.Equal(e.t, pred.TargetSubscriptionID(pred.EligibleOfferIDs()[0]), it.upgradeID, "%s", p)
		}
	}
	return got
}

// TestLostAnswerAfterWorkIsReplayed: the perform or create call's answer is
// lost after Partner Center did the work — a reset connection, a 500, a
// 503, a body cut short, a response slower than the client's timeout — and
// every item still ends completed, with one upgrade or transition, its
// every create call under one MS-RequestId, which the simulator replayed.
func TestLostAnswerAfterWorkIsReplayed(t *testing.T) {
	t.Parallel()
	for _, op := range syncOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			opts := simulator.DefaultOptions()
			opts.MinDuration, opts.MaxDuration = 500*time.Millisecond, time.Second
			opts.FailShare = 0
			opts.Faults = map[string]simulator.Fault{op.simCreate: {
				ResetAfterWorkShare: 0.15, Share500AfterWork: 0.15, Share503AfterWork: 0.15, MalformedShare: 0.3,
				// Above the client's 1s timeout for about a third of the calls.
				Latency: simulator.LatencySpec{Min: 0, Max: 1500 * time.Millisecond},
			}}
			e := newE2E(t, opts, lostAnswerConfig)
			pairs, path := workablePairs(t, e.sim, op, 24)
			e.mustRun("import", "--batch", "lost", path)
			e.serve()
			e.waitDone("lost", 3*time.Minute)
			got := e.requireExactlyOnce("lost", op, pairs)

			st := e.sim.Stats()
			calls := st.Calls[op.simCreate]
			t.Logf("%s calls by answer: %v; malformed %d; replayed %d", op.simCreate, calls, st.Totals.Malformed, e.sim.Requests()[op.simCreate+"_replayed"])
			for _, kind := range []string{"reset", "500", "503", "499"} {
				require.Positive(t, calls[kind], "the fault %q happened after the work", kind)
			}
			require.Positive(t, st.Totals.Malformed, "a body was cut short after the work")
			retried := 0
			for _, it := range got {
				if it.creates > 1 {
					retried++
				}
			}
			require.Positive(t, retried, "some creates were repeated")
			require.Positive(t, e.sim.Requests()[op.simCreate+"_replayed"], "repeats were answered as the same request")
			// The eligibility read happened once per item: a repeat reads nothing again.
			require.Equal(t, len(pairs), e.sim.Requests()[op.simRead], "one eligibility read per item")
		})
	}
}

// throttleRetry loses the first create call's answer of every subscription
// after the work (a 503 instead of the answer) and answers the second 429,
// without passing it on; later calls pass. It records every create call's
// MS-RequestId per path.
type throttleRetry struct {
	next http.Handler
	mu   sync.Mutex
	ids  map[string][]string
}

func (h *throttleRetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lower := strings.ToLower(r.URL.Path)
	if r.Method != http.MethodPost || !(strings.HasSuffix(lower, "/upgrades") || strings.HasSuffix(lower, "/transitions")) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	h.ids[lower] = append(h.ids[lower], r.Header.Get("MS-RequestId"))
	n := len(h.ids[lower])
	h.mu.Unlock()
	switch n {
	case 1:
		h.next.ServeHTTP(httptest.NewRecorder(), r) // the work is done, the answer lost
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"code":"800003","description":"Service unavailable."}`)
	case 2:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 1 seconds."}`)
	default:
		h.next.ServeHTTP(w, r)
	}
}

// TestThrottledRetryKeepsTheRequestID: a create whose answer was lost is
// repeated, the repeat is throttled (429), and the next repeat still
// carries the same MS-RequestId — the simulator answers it as the first
// request — without the eligibilities being read again.
func TestThrottledRetryKeepsTheRequestID(t *testing.T) {
	t.Parallel()
	for _, op := range syncOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			opts := simulator.DefaultOptions()
			opts.MinDuration, opts.MaxDuration = 300*time.Millisecond, 600*time.Millisecond
			opts.FailShare = 0
			h := &throttleRetry{ids: map[string][]string{}}
			e := newE2EWrapped(t, opts, lostAnswerConfig, func(sim http.Handler) http.Handler {
				h.next = sim
				return h
			})
			pairs, path := workablePairs(t, e.sim, op, 6)
			e.mustRun("import", "--batch", "throttled", path)
			e.serve()
			e.waitDone("throttled", 2*time.Minute)
			e.requireExactlyOnce("throttled", op, pairs)

			h.mu.Lock()
			defer h.mu.Unlock()
			require.Len(t, h.ids, len(pairs))
			for path, ids := range h.ids {
				require.GreaterOrEqual(t, len(ids), 3, "%s: lost, throttled, replayed", path)
				for _, id := range ids {
					require.Equal(t, ids[0], id, "%s: one MS-RequestId across the lost answer, the 429 and the replay", path)
				}
			}
			require.Equal(t, len(pairs), e.sim.Requests()[op.simCreate+"_replayed"], "each item's repeat was answered as its first request")
			require.Equal(t, len(pairs), e.sim.Requests()[op.simRead], "the 429 did not cost another eligibility read")
		})
	}
}

// TestKillDuringPerformsDoesNothingTwice kills serve with SIGKILL eight
// times while subscription upgrades and transitions are performed against
// a faulty, slow simulator; in the end every item is what the simulator
// did, and nothing was done twice.
func TestKillDuringPerformsDoesNothingTwice(t *testing.T) {
	t.Parallel()
	opts := faultySimulator()
	opts.FailShare = 0
	slow := opts.Faults["*"]
	slow.Latency = simulator.LatencySpec{Min: 50 * time.Millisecond, Max: 600 * time.Millisecond}
	slow.Share500AfterWork, slow.Share503AfterWork = 0.03, 0.03
	opts.Faults = map[string]simulator.Fault{"*": opts.Faults["*"],
		simulator.OpSubscriptionUpgradeCreate: slow, simulator.OpTransitionCreate: slow}
	e := newE2E(t, opts, crashConfig)
	var all [][]pair
	for _, op := range syncOps {
		pairs, path := workablePairs(t, e.sim, op, 75)
		e.mustRun("import", "--batch", op.name, path)
		all = append(all, pairs)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11)) //nolint:gosec // test timing
	for range 8 {
		proc, _ := e.serve()
		time.Sleep(time.Duration(1200+rng.IntN(2500)) * time.Millisecond)
		require.NoError(t, proc.Process.Signal(syscall.SIGKILL))
		_ = proc.Wait()
	}
	st := e.sim.Stats()
	t.Logf("before the last restart: %d creates, %d resets, %d server errors", st.Totals.Creates, st.Totals.Resets, st.Totals.ServerErrors)
	require.Positive(t, st.Totals.Creates, "work happened between the kills")

	e.serve()
	for i, op := range syncOps {
		e.waitDone(op.name, 4*time.Minute)
		e.requireExactlyOnce(op.name, op, all[i])
	}
}
