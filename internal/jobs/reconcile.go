package jobs

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// reconcileBatchSize bounds how many items one reconcile run re-queues per
// status, keeping each run short.
const reconcileBatchSize = 1000

// ReconcileArgs asks for one reconcile run.
type ReconcileArgs struct{}

// Kind implements river.JobArgs. Persisted: never rename.
func (ReconcileArgs) Kind() string { return "reconcile" }

// ReconcileWorker repairs items whose job vanished or stalled and completes
// batches whose items are all final. It runs periodically on the leader.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	deps *Deps
}

// NewReconcileWorker returns the worker for reconcile jobs.
func NewReconcileWorker(d *Deps) *ReconcileWorker {
	return &ReconcileWorker{deps: d}
}

// Work implements river.Worker.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	d := w.deps
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	requeue := []struct {
		status upgrade.Status
		kind   string
		args   func(id int64) river.JobArgs
	}{
		{upgrade.StatusPending, CreateUpgradeArgs{}.Kind(), func(id int64) river.JobArgs { return CreateUpgradeArgs{ItemID: id} }},
		{upgrade.StatusInProgress, PollStatusArgs{}.Kind(), func(id int64) river.JobArgs { return PollStatusArgs{ItemID: id} }},
	}
	for _, r := range requeue {
		ids, err := d.Store.OrphanedItems(ctx, r.status, r.kind, d.StallAfter, reconcileBatchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: r.args(id)}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return err
		}
		d.Logger.WarnContext(ctx, "re-queued items whose job vanished or stalled",
			slog.String("status", string(r.status)), slog.String("kind", r.kind), slog.Int("items", len(ids)))
	}

	done, err := d.Store.CompleteFinishedBatches(ctx)
	if err != nil {
		return err
	}
	for _, name := range done {
		d.Logger.InfoContext(ctx, "batch completed", slog.String("batch", name))
	}
	return nil
}
