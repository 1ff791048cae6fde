package jobs

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// claim is the start of every item job. It loads the item and decides
// whether the job works on it now:
//
//   - item gone: the job is cancelled;
//   - item not in status want (settled by an earlier attempt or another
//     worker), or its batch does not let it run (paused, halted, cancelled,
//     a canary holding it back), or it is flagged stuck: the job ends
//     without work; a pending item goes back to the dispatcher, and resuming
//     the batch queues follow jobs again;
//   - a service-wide hold in force (refused credentials), or an outage hold
//     of the endpoints the job calls: the job snoozes until it lapses or its
//     next probe is due, using no attempt; when the probe is due, the one
//     job that takes it goes on and its call is the probe;
//   - another worker holds the item's lease: the job snoozes briefly.
//
// On ok the caller owns the item until it calls release, and it.Lease is
// the lease won: the fencing token its calls (fence) and status changes
// (settle, finish, adopt) are checked against.
func claim(ctx context.Context, d *Deps, itemID int64, want upgrade.Status) (it store.Item, release func(), ok bool, err error) {
	it, err = d.Store.Item(ctx, itemID)
	if errors.Is(err, store.ErrNotFound) {
		return it, nil, false, river.JobCancel(err)
	}
	if err != nil {
		return it, nil, false, err
	}
	if it.Status != want || it.Stuck {
		return it, nil, false, nil
	}
	runs := it.Starts()
	if want == upgrade.StatusInProgress {
		runs = it.Follows()
	}
	if !runs {
		d.Logger.DebugContext(ctx, "batch holds the item back", slog.String("batch", it.BatchName),
			slog.Int64("item", it.ID), slog.String("batch_status", string(it.BatchStatus)))
		if want == upgrade.StatusPending {
			// Back to the dispatcher, which queues it when the batch runs.
			return it, nil, false, d.Store.Unqueue(ctx, it.ID)
		}
		return it, nil, false, nil
	}
	if err := waitForHolds(ctx, d, it); err != nil {
		return it, nil, false, err
	}
	lease, won, err := d.Store.ClaimItem(ctx, it.ID, d.Worker, d.LeaseTTL)
	if err != nil {
		return it, nil, false, err
	}
	if !won {
		return it, nil, false, river.JobSnooze(2*time.Second + jitter(3*time.Second))
	}
	it.Lease = lease
	release = func() {
		if err := d.Store.ReleaseItem(context.WithoutCancel(ctx), it.ID, lease); err != nil {
			d.Logger.WarnContext(ctx, "releasing item lease", slog.Int64("item", it.ID), slog.String("error", err.Error()))
		}
	}
	return it, release, true, nil
}

// waitForHolds returns a snooze while a hold keeps item it's job from
// calling Partner Center, and nil when it may go on: no hold, or it took
// the probe of a due outage hold.
func waitForHolds(ctx context.Context, d *Deps, it store.Item) error {
	hold, held, err := d.Store.BlockingHold(ctx, families(it.Operation))
	if err != nil || !held {
		return err
	}
	if hold.IsOutage() && !hold.Until.After(time.Now()) {
		took, next, err := d.Store.TakeProbe(ctx, hold.Name, d.Outage)
		if err != nil {
			return err
		}
		if took {
			d.Logger.InfoContext(ctx, "probing whether Partner Center answers again", slog.String("hold", hold.Name),
				slog.Int("probe", hold.Probes+1), slog.Int64("item", it.ID), slog.String("batch", it.BatchName))
			return nil
		}
		hold.Until = next
	}
	return river.JobSnooze(max(time.Until(hold.Until), 0) + jitter(2*time.Second))
}

// jitter returns a random duration in [0, max).
func jitter(limit time.Duration) time.Duration {
	return time.Duration(rand.Int64N(int64(limit))) //nolint:gosec // spreading retries, not security
}

// claimFollow is the start of every follow job (a poll of work in
// progress): it waits until notBefore (the first poll's time, see
// firstPoll) by snoozing, then claims the in-progress item. An item without
// the Partner Center object it follows is left to reconcile.
func claimFollow(ctx context.Context, d *Deps, itemID int64, notBefore time.Time) (it store.Item, release func(), ok bool, err error) {
	if wait := time.Until(notBefore); wait > 0 {
		return it, nil, false, river.JobSnooze(wait)
	}
	it, release, ok, err = claim(ctx, d, itemID, upgrade.StatusInProgress)
	if ok && it.UpgradeID == "" {
		release()
		return it, nil, false, nil
	}
	return it, release, ok, err
}
