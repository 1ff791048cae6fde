package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// pollDelay is the wait before poll number n (1-based): initial doubled per
// poll, capped at max, with ±20% jitter so polls of a batch spread out.
func pollDelay(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := 0.8 + 0.4*rand.Float64() //nolint:gosec // jitter, not security
	return time.Duration(float64(d) * jitter)
}

// nextPoll ends a poll that found the work still running: the item is
// flagged stuck when it has been in progress longer than StuckAfter (and is
// no longer polled), otherwise the job snoozes until the next poll, which
// holds no worker slot and uses no attempt.
func nextPoll(ctx context.Context, d *Deps, it store.Item) error {
	if d.StuckAfter > 0 && time.Since(it.StatusChangedAt) > d.StuckAfter {
		if err := d.Store.MarkStuck(ctx, it.ID, d.Worker); err != nil {
			return err
		}
		d.Logger.WarnContext(ctx, "item flagged stuck: in progress longer than the limit; no longer polled",
			slog.String("batch", it.BatchName), slog.Int64("item", it.ID), slog.String("upgrade_id", it.UpgradeID),
			slog.Duration("in_progress_for", time.Since(it.StatusChangedAt).Round(time.Second)))
		return nil
	}
	return river.JobSnooze(d.Polls.Next(ctx, it.Operation, it.PollCount+1, time.Since(it.StatusChangedAt)))
}

// gatedPoll fences the poll (see fence) and takes a token for a poll of it's work through op. An early poll
// (PollPlanner.Early) goes only when the bucket has budget to spare;
// without, it makes no call and waits for the ladder's next rung instead of
// a token. Other polls wait for a token like any call (gated).
func gatedPoll(ctx context.Context, d *Deps, it store.Item, op string) error {
	if err := fence(ctx, d, it); err != nil {
		return err
	}
	elapsed := time.Since(it.StatusChangedAt)
	if !d.Polls.Early(ctx, it.Operation, elapsed) {
		return gated(ctx, d, it, op, ratelimit.Poll)
	}
	wait, err := d.Governor.Take(ctx, op, it.CustomerID, ratelimit.Spare)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(d.Polls.Next(ctx, it.Operation, it.PollCount, elapsed))
	}
	return nil
}
