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
// spends as little of Partner Center's budget as the API allows:
//
//   - the first poll waits until nine in ten recently finished pieces of
//     work of the operation were done (learned from the database; the
//     initial interval until something finished), so most items need one
//     status call; the rate bucket paces first polls like any call;
//   - later polls back off from the initial to the maximum interval, with
//     jitter;
//   - whatever the backoff says, when polls share a partner-wide limit with
//     other calls, later polls of an operation's items in flight are never
//     spaced closer than the limit allows to polls (after the poll reserve),
//     so long-running work does not eat the budget of new work: with N
//     items in flight and R polls a second, each waits at least N/R. (A
//     limit of the polls' own is paced by its bucket alone.)
//
// Counts are read at most every few seconds per process.
type PollPlanner struct {
	store    *store.Store
	governor *ratelimit.Governor
	initial  time.Duration
	limit    time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	read    map[upgrade.Operation]time.Time
	flight  map[upgrade.Operation]int
	typical map[upgrade.Operation]time.Duration
}

// NewPollPlanner returns a planner polling between initial and limit.
func NewPollPlanner(st *store.Store, gov *ratelimit.Governor, initial, limit time.Duration, logger *slog.Logger) *PollPlanner {
	return &PollPlanner{
		store: st, governor: gov, initial: initial, limit: limit, logger: logger,
		read: map[upgrade.Operation]time.Time{}, flight: map[upgrade.Operation]int{}, typical: map[upgrade.Operation]time.Duration{},
	}
}

// statusOp is the Partner Center operation that polls op's work.
func statusOp(op upgrade.Operation) string {
	if op == upgrade.Transition {
		return partnercenter.OpTransitionList
	}
	return partnercenter.OpProductUpgradeStatus
}

func (p *PollPlanner) refresh(ctx context.Context, op upgrade.Operation) (inFlight int, typical time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.read[op]) < planRefresh {
		return p.flight[op], p.typical[op]
	}
	p.read[op] = time.Now()
	if n, err := p.store.InFlight(ctx, op); err == nil {
		p.flight[op] = n
	} else {
		p.logger.WarnContext(ctx, "planning polls", slog.String("error", err.Error()))
	}
	if d, ok, err := p.store.TypicalDuration(ctx, op); err == nil && ok {
		p.typical[op] = d
	}
	return p.flight[op], p.typical[op]
}

// minFirstPoll is the shortest wait before a first poll.
const minFirstPoll = time.Second

// First is the wait before the first poll of new work of op.
func (p *PollPlanner) First(ctx context.Context, op upgrade.Operation) time.Duration {
	_, typical := p.refresh(ctx, op)
	if typical <= 0 {
		return p.initial
	}
	d := max(minFirstPoll, min(typical, p.limit))
	return d + jitter(d/10+time.Millisecond)
}

// Next is the wait before poll number n (1-based) of work of op still
// running.
func (p *PollPlanner) Next(ctx context.Context, op upgrade.Operation, n int) time.Duration {
	inFlight, _ := p.refresh(ctx, op)
	return max(pollDelay(p.initial, p.limit, n), p.budgetFloor(op, inFlight))
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
