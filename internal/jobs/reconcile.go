package jobs

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/store"
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
//
// Poison work ends: every re-queue is counted per item and generation, and
// an item whose job vanished again after MaxRequeues re-queues (a job that
// panics or errs on every attempt) fails with internal_error instead.
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
		// Pending items whose start job vanished go back to the dispatcher,
		// unless it vanished too often.
		kind := StartArgs(op, 0).Kind()
		if err := w.failPoisoned(ctx, op, upgrade.StatusPending, kind); err != nil {
			return err
		}
		var ids []int64
		err := d.Store.InTx(ctx, func(_ pgx.Tx, s *store.Store) error {
			var err error
			if ids, err = s.UnqueueOrphans(ctx, op, kind, d.StallAfter.Seconds(), reconcileBatchSize); err != nil {
				return err
			}
			return s.CountRequeues(ctx, ids, kind, d.MaxRequeues, d.Worker)
		})
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			d.Logger.WarnContext(ctx, "handed items whose start job vanished back to the dispatcher",
				slog.String("operation", string(op)), slog.Int("items", len(ids)))
		}
		// Items in progress whose follow job vanished get a new one.
		if op == upgrade.SubscriptionUpgrade {
			continue // answered synchronously: never in progress between jobs
		}
		kind = FollowArgs(op, 0).Kind()
		if err := w.failPoisoned(ctx, op, upgrade.StatusInProgress, kind); err != nil {
			return err
		}
		ids, err = d.Store.OrphanedItems(ctx, op, upgrade.StatusInProgress, kind, d.StallAfter, reconcileBatchSize)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		err = d.Store.InTx(ctx, func(tx pgx.Tx, s *store.Store) error {
			if err := s.CountRequeues(ctx, ids, kind, d.MaxRequeues, d.Worker); err != nil {
				return err
			}
			_, err := client.InsertManyTx(ctx, tx, jobParams(ids, op, FollowArgs))
			return err
		})
		if err != nil {
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

// failPoisoned fails the items of op in status st whose job of kind
// vanished again after MaxRequeues re-queues, and says so in the log and
// the metrics. Such failures are the service giving up, not an outcome
// Partner Center decided: they do not count toward the automatic halt.
func (w *ReconcileWorker) failPoisoned(ctx context.Context, op upgrade.Operation, st upgrade.Status, kind string) error {
	d := w.deps
	failed, err := d.Store.FailPoisoned(ctx, op, st, kind, d.StallAfter, d.MaxRequeues, d.Worker, reconcileBatchSize)
	if err != nil {
		return err
	}
	for _, p := range failed {
		d.Logger.ErrorContext(ctx, "ALERT: item failed: its job kept vanishing; look at its history and the service's logs",
			slog.String("batch", p.BatchName), slog.Int64("item", p.ID), slog.String("operation", string(op)),
			slog.String("kind", kind), slog.String("error_code", store.CodeInternalError), slog.String("error", p.Message))
		if d.Observe != nil {
			d.Observe(op, upgrade.StatusFailed, store.CodeInternalError)
		}
		if d.ObservePoisoned != nil {
			d.ObservePoisoned(op)
		}
	}
	return nil
}
