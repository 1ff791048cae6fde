package jobs

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// planRefresh is how often a PollPlanner re-reads what it learned.
const planRefresh = 5 * time.Second

// PollPlanner decides when work in progress is polled, so that polling
// spends as little of Partner Center's budget as the API allows and still
// notices finished work soon:
//
//   - polls follow a ladder learned from the database: with the quantiles
//     0.5, 0.9 and 1 (polling.learned_quantiles), the first poll comes when
//     half of the recently finished pieces of work of the operation were
//     done, the next when nine in ten were, the last when the slowest was,
//     each never later than the backoff below would poll. Durations are
//     Partner Center's (line items' upgradedDate), so polling less often
//     does not teach the planner to wait longer. Until something finished
//     the first poll waits the initial interval;
//   - rungs below polling.spare_below (0.9) are early polls: they go only
//     when the status budget has room to spare (ratelimit.Spare), and are
//     otherwise skipped for the next rung without a call, so with budget to
//     spare finished work is noticed sooner, and without, most items still
//     need a single status call;
//   - past the ladder, polls back off from the initial to the maximum
//     interval, with jitter, but come each time the work's age has grown
//     by a quarter when that is sooner;
//   - whatever the above says, when polls share a partner-wide limit with
//     other calls, later polls of an operation's items in flight are never
//     spaced closer than the limit allows to polls (after the poll reserve),
//     so long-running work does not eat the budget of new work: with N
//     items in flight and R polls a second, each waits at least N/R. (A
//     limit of the polls' own is paced by its bucket alone.) First polls are
//     paced by the rate bucket like any call.
//
// Counts and durations are read at most every few seconds per process.
type PollPlanner struct {
	store     *store.Store
	governor  *ratelimit.Governor
	initial   time.Duration
	limit     time.Duration
	quantiles []float64
	spare     float64
	logger    *slog.Logger

	mu      sync.Mutex
	read    map[upgrade.Operation]time.Time
	flight  map[upgrade.Operation]int
	learned map[upgrade.Operation][]time.Duration
}

// NewPollPlanner returns a planner polling at the learned quantiles of the
// durations of finished work (those below spareBelow only with budget to
// spare), then between initial and limit.
func NewPollPlanner(st *store.Store, gov *ratelimit.Governor, initial, limit time.Duration, quantiles []float64, spareBelow float64, logger *slog.Logger) *PollPlanner {
	return &PollPlanner{
		store: st, governor: gov, initial: initial, limit: limit, quantiles: quantiles, spare: spareBelow, logger: logger,
		read: map[upgrade.Operation]time.Time{}, flight: map[upgrade.Operation]int{}, learned: map[upgrade.Operation][]time.Duration{},
	}
}

// statusOp is the Partner Center operation that polls op's work.
func statusOp(op upgrade.Operation) string {
	if op == upgrade.Transition {
		return partnercenter.OpTransitionList
	}
	return partnercenter.OpProductUpgradeStatus
}

// refresh returns what the planner knows about op's work, re-reading it
// from the database when it is older than planRefresh. One caller re-reads
// while the others go on with what is known: no lock is held during the
// queries, so a caller holding a connection (in a transaction) never waits
// for callers waiting for one.
func (p *PollPlanner) refresh(ctx context.Context, op upgrade.Operation) (inFlight int, learned []time.Duration) {
	p.mu.Lock()
	inFlight, learned = p.flight[op], p.learned[op]
	stale := time.Since(p.read[op]) >= planRefresh
	if stale {
		p.read[op] = time.Now()
	}
	p.mu.Unlock()
	if !stale {
		return inFlight, learned
	}
	if n, err := p.store.InFlight(ctx, op); err == nil {
		inFlight = n
	} else {
		p.logger.WarnContext(ctx, "planning polls", slog.String("error", err.Error()))
	}
	if d, ok, err := p.store.Durations(ctx, op, p.quantiles); err == nil && ok {
		learned = d
	} else if err != nil {
		p.logger.WarnContext(ctx, "planning polls", slog.String("error", err.Error()))
	}
	p.mu.Lock()
	p.flight[op], p.learned[op] = inFlight, learned
	p.mu.Unlock()
	return inFlight, learned
}

// minFirstPoll is the shortest wait before a first poll.
const minFirstPoll = time.Second

// minRepoll is the shortest wait between two polls of the ladder.
const minRepoll = 250 * time.Millisecond

// First is the wait before the first poll of new work of op.
func (p *PollPlanner) First(ctx context.Context, op upgrade.Operation) time.Duration {
	_, learned := p.refresh(ctx, op)
	if len(learned) == 0 {
		return p.initial
	}
	d := max(minFirstPoll, min(learned[0], p.limit))
	return d + jitter(d/10+time.Millisecond)
}

// Next is the wait before the next poll of work of op still running,
// elapsed after it started, after n polls: until the next rung of the
// ladder, never later than the backoff after n polls says, and never sooner
// than the budget floor.
func (p *PollPlanner) Next(ctx context.Context, op upgrade.Operation, n int, elapsed time.Duration) time.Duration {
	inFlight, learned := p.refresh(ctx, op)
	d := pollDelay(p.initial, p.limit, n)
	if len(learned) > 0 {
		// Past the ladder, work slower than anything seen lately is polled
		// each time its age grows by a quarter.
		step := max(minRepoll, elapsed/4)
		for _, rung := range learned {
			if rung > elapsed {
				step = max(minRepoll, rung-elapsed)
				break
			}
		}
		d = min(d, step+jitter(step/20+time.Millisecond))
	}
	return max(d, p.budgetFloor(op, inFlight))
}

// Early reports whether a poll of work of op, elapsed after it started,
// comes before the ladder's first rung at or above spare_below (or before
// its last rung, when none is): such a poll goes only with budget to spare.
func (p *PollPlanner) Early(ctx context.Context, op upgrade.Operation, elapsed time.Duration) bool {
	_, learned := p.refresh(ctx, op)
	for i, t := range learned {
		if i < len(p.quantiles) && p.quantiles[i] >= p.spare {
			return elapsed < t
		}
	}
	return len(learned) > 0 && elapsed < learned[len(learned)-1]
}

// budgetFloor is the shortest interval at which inFlight items can all be
// polled within the polls' share of the limit.
func (p *PollPlanner) budgetFloor(op upgrade.Operation, inFlight int) time.Duration {
	rate, ok := p.governor.PollRate(statusOp(op))
	if !ok || rate <= 0 {
		return 0
	}
	floor := time.Duration(float64(inFlight) / rate * float64(time.Second))
	return floor + jitter(floor/10+time.Millisecond)
}
