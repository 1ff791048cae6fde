package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// fence is the check right before every Partner Center call of a job about
// item it (gated and gatedPoll run it first): the process must still be
// beating (Deps.Alive), and the item must still carry the lease the job's
// claim won (store.CheckLease, which also extends it). A process that was
// paused, presumed dead and had its jobs handed back cannot pass: releasing
// its leases moved their epoch on. Failing the fence makes no call; the job
// snoozes briefly and, when it runs again, claims the item afresh (and
// finds it leased, settled, or free).
func fence(ctx context.Context, d *Deps, it store.Item) error {
	if d.Alive != nil {
		if err := d.Alive(); err != nil {
			d.Logger.WarnContext(ctx, "not calling Partner Center: this process's heartbeat is not current",
				slog.Int64("item", it.ID), slog.String("batch", it.BatchName), slog.String("error", err.Error()))
			return river.JobSnooze(time.Second + jitter(2*time.Second))
		}
	}
	if !it.Lease.Held() {
		return nil
	}
	err := d.Store.CheckLease(ctx, it.ID, it.Lease, d.LeaseTTL)
	if errors.Is(err, store.ErrLeaseLost) {
		return leaseLost(ctx, d, it, err)
	}
	return err
}

// leaseLost ends a job whose item another worker now holds: no call, no
// write; the job snoozes (River completes nothing that now belongs to
// another process's run) and claims the item again when it runs.
func leaseLost(ctx context.Context, d *Deps, it store.Item, err error) error {
	d.Logger.WarnContext(ctx, "item lease lost: another worker holds the item; this job does nothing more",
		slog.Int64("item", it.ID), slog.String("batch", it.BatchName), slog.String("error", err.Error()))
	return river.JobSnooze(2*time.Second + jitter(3*time.Second))
}
