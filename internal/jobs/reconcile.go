package jobs

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// reconcileBatchSize bounds how many items one reconcile run re-queues per
// operation and status, keeping each run short.
const reconcileBatchSize = 1000

// ReconcileArgs asks for one reconcile run.
type ReconcileArgs struct{}

// Kind implements river.JobArgs. Persisted: never rename.
func (ReconcileArgs) Kind() string { return "reconcile" }

// ReconcileWorker repairs items whose job vanished or stalled and rolls
// batch statuses up (completed, canary finished). It runs periodically on
// the leader. Work created outside the service is adopted by the start
// jobs: each looks for an existing upgrade or transition before creating
// one.
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
	for _, op := range upgrade.Operations() {
		// Pending items whose start job vanished go back to the dispatcher.
		n, err := d.Store.UnqueueOrphans(ctx, op, StartArgs(op, 0).Kind(), d.StallAfter.Seconds(), reconcileBatchSize)
		if err != nil {
			return err
		}
		if n > 0 {
			d.Logger.WarnContext(ctx, "handed items whose start job vanished back to the dispatcher",
				slog.String("operation", string(op)), slog.Int("items", n))
		}
		// Items in progress whose follow job vanished get a new one.
		if op == upgrade.SubscriptionUpgrade {
			continue // answered synchronously: never in progress between jobs
		}
		kind := FollowArgs(op, 0).Kind()
		ids, err := d.Store.OrphanedItems(ctx, op, upgrade.StatusInProgress, kind, d.StallAfter, reconcileBatchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		if _, err := client.InsertMany(ctx, jobParams(ids, op, FollowArgs)); err != nil {
			return err
		}
		d.Logger.WarnContext(ctx, "re-queued items whose follow job vanished or stalled",
			slog.String("operation", string(op)), slog.String("kind", kind), slog.Int("items", len(ids)))
	}

	changes, err := d.Store.RollUpBatches(ctx)
	if err != nil {
		return err
	}
	for _, c := range changes {
		d.Logger.InfoContext(ctx, "batch "+string(c.To), slog.String("batch", c.Batch), slog.String("status", string(c.To)))
	}
	return nil
}
