// Package heartbeat keeps a serve process's row in the processes table
// beating, declares processes that stopped beating dead (handing the River
// jobs they were running back to the queue and releasing their item
// leases), and tells the process's own jobs whether it may still call
// Partner Center.
//
// The rules, all by the database's clock except where said:
//
//   - a process beats every Interval (DeadAfter/6, at most 5s);
//   - a process whose last beat is older than DeadAfter is dead: the first
//     live process to notice declares it, in one transaction with the
//     handback of its jobs and leases;
//   - only a process that has itself beaten without a gap for DeadAfter may
//     declare others dead, so after the database was unreachable for a while
//     (when nobody could beat) the replicas do not declare each other dead;
//   - a process calls Partner Center only while its last successful beat
//     began less than DeadAfter/2 ago (its own monotonic clock), so it stops
//     calling well before anyone may declare it dead;
//   - a process that finds its own row declared dead stops working (Run
//     returns store.ErrDeclaredDead; serve exits at once).
package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// ErrNotAlive is returned by Alive when the process has not beaten
// recently enough to be sure nobody declared it dead, or was declared dead.
var ErrNotAlive = errors.New("process heartbeat not current")

// maxInterval bounds the time between two beats.
const maxInterval = 5 * time.Second

// Interval is how often a process beats for a given dead_after: a sixth of
// it, at most 5s and at least 100ms.
func Interval(deadAfter time.Duration) time.Duration {
	return min(max(deadAfter/6, 100*time.Millisecond), maxInterval)
}

// Beater is one process's heartbeat. Its methods are safe for concurrent
// use.
type Beater struct {
	store     *store.Store
	id        string
	deadAfter time.Duration
	interval  time.Duration
	logger    *slog.Logger
	// onDeclared, when set, hears about the processes this one declared
	// dead (for metrics).
	onDeclared func([]store.DeadProcess)

	mu sync.Mutex
	// lastBeat is when the last successful beat was sent (local monotonic
	// time, taken before the query); streakStart when the current run of
	// beats without a gap longer than deadAfter/2 began.
	lastBeat    time.Time
	streakStart time.Time
	dead        bool
}

// New returns the heartbeat of the process named id (its lease owner and
// River client id). A process that stops beating is declared dead after
// deadAfter. onDeclared, when not nil, hears about every process this one
// declares dead.
func New(st *store.Store, id string, deadAfter time.Duration, logger *slog.Logger, onDeclared func([]store.DeadProcess)) *Beater {
	return &Beater{store: st, id: id, deadAfter: deadAfter, interval: Interval(deadAfter), logger: logger, onDeclared: onDeclared}
}

// Alive returns nil while the process may call Partner Center: its last
// successful beat began less than dead_after/2 ago and it was not declared
// dead. Otherwise it returns ErrNotAlive.
func (b *Beater) Alive() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return fmt.Errorf("%w: declared dead", ErrNotAlive)
	}
	if b.lastBeat.IsZero() {
		return fmt.Errorf("%w: not registered", ErrNotAlive)
	}
	if age := time.Since(b.lastBeat); age >= b.deadAfter/2 {
		return fmt.Errorf("%w: last beat %s ago (dead_after %s)", ErrNotAlive, age.Round(time.Millisecond), b.deadAfter)
	}
	return nil
}

// Register records the process's first beat. Call it before the process
// starts working jobs.
func (b *Beater) Register(ctx context.Context) error {
	host, _ := os.Hostname()
	sent := time.Now()
	if err := b.store.RegisterProcess(ctx, b.id, host, os.Getpid()); err != nil {
		return err
	}
	b.mu.Lock()
	b.lastBeat, b.streakStart = sent, sent
	b.mu.Unlock()
	return nil
}

// Run beats every interval until ctx ends (then it returns nil) or the
// process finds itself declared dead (then it returns an error wrapping
// store.ErrDeclaredDead and the process must stop working at once). After
// each beat, once the process has beaten without a gap for dead_after, it
// declares dead the processes that stopped beating and hands their work
// back.
func (b *Beater) Run(ctx context.Context) error {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := b.Tick(ctx); err != nil {
			return err
		}
	}
}

// Tick is one round of Run: beat, and declare dead processes when this
// one may. It returns an error only when the process was declared dead; a
// beat that fails otherwise is logged (and Alive turns false once beats
// keep failing).
func (b *Beater) Tick(ctx context.Context) error {
	sent := time.Now()
	bctx, cancel := context.WithTimeout(ctx, max(b.interval, time.Second))
	err := b.store.Beat(bctx, b.id)
	cancel()
	if errors.Is(err, store.ErrDeclaredDead) {
		b.mu.Lock()
		b.dead = true
		b.mu.Unlock()
		return err
	}
	if err != nil {
		if ctx.Err() == nil {
			b.logger.WarnContext(ctx, "heartbeat failed", slog.String("process", b.id), slog.String("error", err.Error()))
		}
		return nil
	}
	b.mu.Lock()
	if sent.Sub(b.lastBeat) > b.deadAfter/2 {
		b.streakStart = sent // a gap: others may not have been able to beat either
	}
	b.lastBeat = sent
	steady := sent.Sub(b.streakStart) >= b.deadAfter
	b.mu.Unlock()
	if steady {
		b.declareDead(ctx)
	}
	return nil
}

// declareDead hands back the work of processes that stopped beating.
func (b *Beater) declareDead(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, max(b.deadAfter/2, time.Second))
	defer cancel()
	dead, err := b.store.DeclareDead(dctx, b.id, b.deadAfter)
	if err != nil {
		if ctx.Err() == nil {
			b.logger.WarnContext(ctx, "looking for dead processes", slog.String("error", err.Error()))
		}
		return
	}
	for _, p := range dead {
		b.logger.WarnContext(ctx, "process stopped beating: declared dead, its running jobs handed back and its item leases released",
			slog.String("process", p.ID), slog.Time("last_beat", p.BeatAt),
			slog.Duration("silent_for", time.Since(p.BeatAt).Round(time.Millisecond)),
			slog.Int64("jobs_handed_back", p.JobsHandedBack), slog.Int64("leases_released", p.LeasesReleased))
	}
	if len(dead) > 0 && b.onDeclared != nil {
		b.onDeclared(dead)
	}
}

// Stop records that the process stopped cleanly, so nobody declares it
// dead.
func (b *Beater) Stop(ctx context.Context) error {
	return b.store.StopProcess(ctx, b.id)
}
