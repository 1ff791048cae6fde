package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Register adds every worker to workers.
func Register(workers *river.Workers, d *Deps) error {
	if err := river.AddWorkerSafely(workers, NewCreateUpgradeWorker(d)); err != nil {
		return fmt.Errorf("register create_upgrade: %w", err)
	}
	if err := river.AddWorkerSafely(workers, NewPollStatusWorker(d)); err != nil {
		return fmt.Errorf("register poll_upgrade_status: %w", err)
	}
	if err := river.AddWorkerSafely(workers, NewReconcileWorker(d)); err != nil {
		return fmt.Errorf("register reconcile: %w", err)
	}
	return nil
}

// PeriodicJobs returns the jobs the elected leader enqueues on a schedule.
// Reconcile also runs at start, and is unique per interval so leader churn
// cannot queue it twice.
func PeriodicJobs(d *Deps) []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(
			river.PeriodicInterval(d.ReconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				return ReconcileArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: d.ReconcileInterval}}
			},
			&river.PeriodicJobOpts{ID: "reconcile", RunOnStart: true},
		),
	}
}

// Enqueuer queues the first job of new items; importer uses it.
type Enqueuer struct {
	client *river.Client[pgx.Tx]
}

// NewEnqueuer returns an Enqueuer inserting through client, which may be an
// insert-only River client.
func NewEnqueuer(client *river.Client[pgx.Tx]) *Enqueuer {
	return &Enqueuer{client: client}
}

// EnqueueCreate queues a create_upgrade job per item inside tx, with one
// multi-row insert per thousand items.
func (e *Enqueuer) EnqueueCreate(ctx context.Context, tx pgx.Tx, itemIDs []int64) error {
	const chunk = 1000
	for start := 0; start < len(itemIDs); start += chunk {
		ids := itemIDs[start:min(start+chunk, len(itemIDs))]
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: CreateUpgradeArgs{ItemID: id}}
		}
		if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
			return err
		}
	}
	return nil
}
