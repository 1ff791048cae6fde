package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Register adds every worker to workers.
func Register(workers *river.Workers, d *Deps) error {
	for _, add := range []func() error{
		func() error { return river.AddWorkerSafely(workers, NewCreateUpgradeWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewPollStatusWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewSubscriptionUpgradeWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewCreateTransitionWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewPollTransitionWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewReconcileWorker(d)) },
		func() error { return river.AddWorkerSafely(workers, NewDispatchWorker(d)) },
	} {
		if err := add(); err != nil {
			return fmt.Errorf("register worker: %w", err)
		}
	}
	return nil
}

// StartArgs is the job that starts a pending item of operation op.
func StartArgs(op upgrade.Operation, itemID int64) river.JobArgs {
	switch op {
	case upgrade.SubscriptionUpgrade:
		return SubscriptionUpgradeArgs{ItemID: itemID}
	case upgrade.Transition:
		return CreateTransitionArgs{ItemID: itemID}
	default:
		return CreateUpgradeArgs{ItemID: itemID}
	}
}

// insertChunk is how many jobs one multi-row insert carries at most.
const insertChunk = 1000

// jobParams are the insert parameters of one job per item id, args(op, id)
// each.
func jobParams(itemIDs []int64, op upgrade.Operation, args func(upgrade.Operation, int64) river.JobArgs) []river.InsertManyParams {
	params := make([]river.InsertManyParams, len(itemIDs))
	for i, id := range itemIDs {
		params[i] = river.InsertManyParams{Args: args(op, id)}
	}
	return params
}

// FollowArgs is the job that follows an in-progress item of operation op.
// Subscription upgrades finish synchronously and are never followed; their
// start job is returned so a stray in-progress item is looked at again.
func FollowArgs(op upgrade.Operation, itemID int64) river.JobArgs {
	return followArgs(op, itemID, time.Time{})
}

// followArgs is FollowArgs polling no earlier than notBefore.
func followArgs(op upgrade.Operation, itemID int64, notBefore time.Time) river.JobArgs {
	switch op {
	case upgrade.Transition:
		return PollTransitionArgs{ItemID: itemID, NotBefore: notBefore}
	case upgrade.SubscriptionUpgrade:
		return SubscriptionUpgradeArgs{ItemID: itemID}
	default:
		return PollStatusArgs{ItemID: itemID, NotBefore: notBefore}
	}
}

// PeriodicJobs returns the jobs the elected leader enqueues on a schedule.
// Both also run at start; reconcile is unique per interval and dispatch
// while one is live, so leader churn cannot queue them twice.
func PeriodicJobs(d *Deps) []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(
			river.PeriodicInterval(d.DispatchInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return DispatchArgs{}, dispatchOpts()
			},
			&river.PeriodicJobOpts{ID: "dispatch", RunOnStart: true},
		),
		river.NewPeriodicJob(
			river.PeriodicInterval(d.ReconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return ReconcileArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: d.ReconcileInterval}}
			},
			&river.PeriodicJobOpts{ID: "reconcile", RunOnStart: true},
		),
	}
}

// Enqueuer queues the follow jobs of items in progress when their batch
// resumes. (Start jobs are queued by the dispatcher.)
type Enqueuer struct {
	client *river.Client[pgx.Tx]
}

// NewEnqueuer returns an Enqueuer inserting through client, which may be an
// insert-only River client.
func NewEnqueuer(client *river.Client[pgx.Tx]) *Enqueuer {
	return &Enqueuer{client: client}
}

// EnqueueFollows queues, inside tx, the follow job of each item in
// progress of operation op. Jobs are unique per item, so items that already
// have a live job are skipped.
func (e *Enqueuer) EnqueueFollows(ctx context.Context, tx pgx.Tx, op upgrade.Operation, itemIDs []int64) error {
	for start := 0; start < len(itemIDs); start += insertChunk {
		part := itemIDs[start:min(start+insertChunk, len(itemIDs))]
		if _, err := e.client.InsertManyTx(ctx, tx, jobParams(part, op, FollowArgs)); err != nil {
			return err
		}
	}
	return nil
}

// QueueDispatch asks, in tx, for a dispatcher run, so that a batch written
// in the same transaction starts as soon as a worker is free instead of at
// the leader's next periodic run (importer.Options.Queued). It is a no-op
// while a dispatch job is already live, the periodic one included.
func (e *Enqueuer) QueueDispatch(ctx context.Context, tx pgx.Tx) error {
	if _, err := e.client.InsertTx(ctx, tx, DispatchArgs{}, dispatchOpts()); err != nil {
		return fmt.Errorf("queue dispatch: %w", err)
	}
	return nil
}

// dispatchOpts keeps one live dispatch job at a time, however short the
// interval and whoever asks.
func dispatchOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: liveUnique().ByState}}
}
