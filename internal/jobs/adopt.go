package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// adopt records that Partner Center object id (a product upgrade or a
// transition) carries the item's current generation, moves the item's
// create to a new MS-RequestId, moves the item to in_progress and queues its
// first poll, atomically; fenced by the job's lease (it.Lease), so a job
// that lost it changes nothing.
func adopt(ctx context.Context, d *Deps, it store.Item, id, reason string) error {
	t := store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: reason + " " + id, Worker: d.Worker, Lease: it.Lease}
	// Planned before the transaction: planning may query the database, and
	// a worker holding a connection must not wait for another.
	delay := d.Polls.First(ctx, it.Operation)
	err := d.Store.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		if err := st.AdoptUpgrade(ctx, it.ID, it.Generation, id); err != nil {
			return err
		}
		// The create's outcome is known now: a later create is a new
		// request. Committed with the adoption, so a crash before it
		// repeats the same request.
		if err := st.AdvanceCreateRequest(ctx, it.ID); err != nil {
			return err
		}
		if err := st.TransitionItem(ctx, it.ID, t); err != nil {
			return err
		}
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return err
		}
		args, opts := firstPoll(it.Operation, it.ID, delay)
		_, err = client.InsertTx(ctx, tx, args, opts)
		return err
	})
	if isStale(err) {
		return nil
	}
	if errors.Is(err, store.ErrLeaseLost) {
		return leaseLost(ctx, d, it, err)
	}
	if err == nil {
		settled(ctx, d, it, t)
	}
	return err
}

// riverSchedulerInterval is how often River's scheduler makes jobs
// scheduled for later available (its default, which serve keeps).
const riverSchedulerInterval = 5 * time.Second

// firstPoll is the follow job of new work, to poll after delay, and how to
// insert it. A short delay: the job is inserted to run now and snoozes until
// the time it carries, because River makes a job inserted for later wait for
// its scheduler, but runs a briefly snoozed one on time (the snooze holds no
// worker slot and makes no call). A delay longer than the scheduler's
// interval would be handed to the scheduler by the snooze anyway: the job is
// inserted for that time, without the extra run.
func firstPoll(op upgrade.Operation, itemID int64, delay time.Duration) (river.JobArgs, *river.InsertOpts) {
	at := time.Now().Add(delay)
	if delay <= riverSchedulerInterval {
		return followArgs(op, itemID, at), nil
	}
	return followArgs(op, itemID, at), &river.InsertOpts{ScheduledAt: at}
}
