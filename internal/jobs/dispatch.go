package jobs

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// DispatchArgs asks for one dispatcher run.
type DispatchArgs struct{}

// Kind implements river.JobArgs. Persisted: never rename.
func (DispatchArgs) Kind() string { return "dispatch" }

// DispatchWorker queues the start jobs of pending items, oldest batch first
// and in file order, keeping at most QueueDepth dispatched items waiting.
// Imports therefore write items only, and however large a batch is, the
// queue holds just the work that can run soon. It runs periodically on the
// leader.
type DispatchWorker struct {
	river.WorkerDefaults[DispatchArgs]
	deps *Deps
}

// NewDispatchWorker returns the worker for dispatch jobs.
func NewDispatchWorker(d *Deps) *DispatchWorker {
	return &DispatchWorker{deps: d}
}

// Work implements river.Worker.
func (w *DispatchWorker) Work(ctx context.Context, _ *river.Job[DispatchArgs]) error {
	d := w.deps
	waiting, err := d.Store.QueuedCount(ctx)
	if err != nil {
		return err
	}
	room := d.QueueDepth - waiting
	if room <= 0 {
		return nil
	}
	batches, err := d.Store.StartableBatches(ctx)
	if err != nil {
		return err
	}
	queued := 0
	for i := range batches {
		b := &batches[i]
		for room > 0 {
			limit := min(room, insertChunk)
			n, err := dispatch(ctx, d, b, limit)
			if err != nil {
				return err
			}
			room -= n
			queued += n
			if n < limit {
				break // nothing more to take in this batch
			}
		}
	}
	if queued > 0 {
		d.Logger.DebugContext(ctx, "dispatched items", slog.Int("items", queued), slog.Int("waiting_before", waiting))
	}
	return nil
}

// dispatch marks up to limit items of batch b queued and inserts their start
// jobs, in one transaction, and returns how many it queued.
func dispatch(ctx context.Context, d *Deps, b *store.StartableBatch, limit int) (int, error) {
	n, cursor := 0, b.Cursor
	err := d.Store.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		ids, err := st.TakeForDispatch(ctx, b, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return err
		}
		if _, err := client.InsertManyTx(ctx, tx, jobParams(ids, b.Operation, StartArgs)); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		b.Cursor = cursor // rolled back
	}
	return n, err
}
