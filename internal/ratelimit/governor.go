// Package ratelimit holds the rate governor: Partner Center's rate budget as
// token buckets in PostgreSQL, shared by every replica. Before each call a
// job takes a token from the bucket of the call's limit; when there is none
// it snoozes until there will be one, holding no worker slot. A 429 pauses
// the bucket for Retry-After for every replica at once.
//
// The governor learns each limit's real rate (learn.go): a 429 answering a
// call that had a token lowers the rate of every bucket of the limit, for
// every replica, and calls that go through raise it back slowly, never
// above the configured rate.
package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// Scope says what one bucket of a limit covers.
type Scope string

// Scopes.
const (
	// ScopePartner: one bucket for the partner (all customers).
	ScopePartner Scope = "partner"
	// ScopeCustomer: one bucket per partner and customer.
	ScopeCustomer Scope = "customer"
)

// Limit is one of Partner Center's rate limits.
type Limit struct {
	// Name keys the limit's buckets; operations naming one limit share it.
	Name string
	// Calls allowed per Per, refilled continuously; also the burst.
	Calls int
	Per   time.Duration
	Scope Scope
	// Operations are the partnercenter.Op* names the limit covers.
	Operations []string
	// Starts are the Operations that begin an item's work (a list or an
	// eligibility check before a perform or create). On a limit shared
	// with other operations they leave the poll reserve to the calls that
	// finish work already begun, so a job that has read its item finds a
	// token for the call that acts on it instead of snoozing and reading
	// again.
	Starts []string
}

// Class is what a call is for: polls give way to creates.
type Class int

// Classes.
const (
	// Work: eligibility checks and creates, which move items on.
	Work Class = iota
	// Poll: status reads of work already begun.
	Poll
	// Spare: early status reads, which go only while the bucket holds more
	// than SpareShare of its burst (and the poll reserve), so they spend
	// budget nothing else is asking for.
	Spare
)

// SpareShare is the share of a bucket's burst a Spare call leaves behind.
const SpareShare = 0.25

// Buckets is where the buckets and the learned rates live; *store.Store
// implements it.
type Buckets interface {
	TakeToken(ctx context.Context, t store.Take) (time.Duration, error)
	ThrottleBucket(ctx context.Context, t store.Throttle) (bool, error)
}

// Governor takes tokens for Partner Center calls.
type Governor struct {
	buckets Buckets
	byOp    map[string]Limit
	// headroom scales every limit (for example 0.98), so clock differences
	// with Partner Center do not turn into 429s.
	headroom float64
	// pollReserve is the share of a bucket's burst polls leave to work.
	pollReserve float64

	// paused holds the pauses this process learned from 429s, by bucket
	// key, so its own jobs stop at once, before the database round trip
	// that tells every replica.
	mu     sync.Mutex
	paused map[string]time.Time
}

// New returns a Governor over buckets for limits. headroom (0,1] scales
// every limit; pollReserve [0,1) is the share of each bucket's burst that
// polls may not use, so polling never starves creates.
func New(buckets Buckets, limits []Limit, headroom, pollReserve float64) (*Governor, error) {
	if headroom <= 0 || headroom > 1 {
		return nil, fmt.Errorf("rate limit headroom %.2f: must be in (0, 1]", headroom)
	}
	if pollReserve < 0 || pollReserve >= 1 {
		return nil, fmt.Errorf("poll reserve %.2f: must be in [0, 1)", pollReserve)
	}
	g := &Governor{buckets: buckets, byOp: map[string]Limit{}, headroom: headroom, pollReserve: pollReserve, paused: map[string]time.Time{}}
	for _, l := range limits {
		if l.Calls <= 0 || l.Per <= 0 {
			return nil, fmt.Errorf("rate limit %s: calls and per must be positive", l.Name)
		}
		for _, op := range l.Starts {
			if !slices.Contains(l.Operations, op) {
				return nil, fmt.Errorf("rate limit %s: starting operation %s is not one of its operations", l.Name, op)
			}
		}
		for _, op := range l.Operations {
			if prev, dup := g.byOp[op]; dup {
				return nil, fmt.Errorf("operation %s is in rate limits %s and %s", op, prev.Name, l.Name)
			}
			g.byOp[op] = l
		}
	}
	return g, nil
}

// key is the bucket of op's limit for customer, and whether op is limited.
func (g *Governor) key(op, customer string) (Limit, string, bool) {
	l, ok := g.byOp[op]
	if !ok {
		return l, "", false
	}
	if l.Scope == ScopeCustomer {
		return l, l.Name + "/" + strings.ToLower(customer), true
	}
	return l, l.Name, true
}

// Take takes a token for a call of op about customer. It returns 0 when the
// call may go now, or how long to wait before asking again. Operations
// without a limit always go.
func (g *Governor) Take(ctx context.Context, op, customer string, class Class) (time.Duration, error) {
	l, key, ok := g.key(op, customer)
	if !ok {
		return 0, nil
	}
	if wait := g.localWait(key); wait > 0 {
		return wait, nil
	}
	// Polls leave the poll reserve to work only where they share the limit
	// with other operations; a limit of the polls' own has nobody to leave
	// it to.
	pollReserve := 0.0
	if len(l.Operations) > 1 {
		pollReserve = g.pollReserve
	}
	reserve := 0.0
	switch class {
	case Poll:
		reserve = pollReserve
	case Spare:
		reserve = max(pollReserve, SpareShare)
	default:
		if slices.Contains(l.Starts, op) {
			reserve = pollReserve
		}
	}
	configured := configuredRate(l)
	wait, err := g.buckets.TakeToken(ctx, store.Take{
		Key: key, Limit: l.Name,
		Configured: configured, Period: l.Per.Seconds(), Headroom: g.headroom,
		Reserve:  reserve,
		Step:     IncreaseShare * configured,
		Interval: increaseInterval(l).Seconds(),
	})
	if err != nil || wait > 0 {
		return wait, err
	}
	// A 429 may have arrived while the token was being taken: the call
	// must not go out after it (the token is given up).
	return g.localWait(key), nil
}

func (g *Governor) localWait(key string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.paused[key]
	if !ok {
		return 0
	}
	wait := time.Until(until)
	if wait <= 0 {
		delete(g.paused, key)
		return 0
	}
	return wait
}

// Throttled records Partner Center's 429 for a call of op about customer:
// the bucket is emptied and paused for retryAfter, for every replica, and
// when the bucket had budget the limit's learned rate is lowered (see
// learn.go).
func (g *Governor) Throttled(ctx context.Context, op, customer string, retryAfter time.Duration) error {
	l, key, ok := g.key(op, customer)
	if !ok {
		return nil
	}
	g.mu.Lock()
	now := time.Now()
	for k, until := range g.paused {
		if !until.After(now) {
			delete(g.paused, k) // so per-customer pauses do not pile up
		}
	}
	if until := now.Add(retryAfter); until.After(g.paused[key]) {
		g.paused[key] = until
	}
	g.mu.Unlock()
	configured := configuredRate(l)
	_, err := g.buckets.ThrottleBucket(ctx, store.Throttle{
		Key: key, Limit: l.Name, Pause: retryAfter,
		Configured: configured, Period: l.Per.Seconds(), Headroom: g.headroom,
		Decrease: Decrease, Floor: FloorShare * configured,
	})
	return err
}

// PollRate returns the calls per second polls of op may use of a
// partner-wide limit they share with other operations (after headroom and
// the poll reserve), and false when op has no such limit: a limit of its
// own only paces polls, it cannot starve other work.
func (g *Governor) PollRate(op string) (float64, bool) {
	l, ok := g.byOp[op]
	if !ok || l.Scope != ScopePartner || len(l.Operations) < 2 {
		return 0, false
	}
	return float64(l.Calls) * g.headroom * (1 - g.pollReserve) / l.Per.Seconds(), true
}
