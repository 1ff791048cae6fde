// Package control holds the operator's controls over batches — pause,
// resume, cancel and retry of failed items — shared by the CLI and the HTTP
// API. Each control is one transaction: the batch status change (checked
// by the batch state machine), the item changes and the jobs they need.
package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Enqueuer queues the follow jobs of items in progress; *jobs.Enqueuer
// implements it.
type Enqueuer interface {
	EnqueueFollows(ctx context.Context, tx pgx.Tx, op upgrade.Operation, itemIDs []int64) error
}

// Controller applies operator controls.
type Controller struct {
	store *store.Store
	enq   Enqueuer
	// who names the operator or process in item histories.
	who string
}

// New returns a Controller; who names the caller in item histories (for
// example "cli" or "api").
func New(st *store.Store, enq Enqueuer, who string) *Controller {
	return &Controller{store: st, enq: enq, who: who}
}

// Result is what a control did.
type Result struct {
	Batch string              `json:"batch"`
	From  upgrade.BatchStatus `json:"from"`
	To    upgrade.BatchStatus `json:"to"`
	// Items is how many items the control changed or queued: cancelled
	// items, retried items, or items queued on resume.
	Items int `json:"items"`
}

// ErrRefused wraps a control the batch's status does not allow (for
// example resuming a running batch).
var ErrRefused = errors.New("refused")

// Pause stops new work on a batch: calls in flight finish, nothing new
// starts and in-progress items are not polled until Resume.
func (c *Controller) Pause(ctx context.Context, name string) (Result, error) {
	return c.change(ctx, name, upgrade.BatchPaused, "paused by operator", nil)
}

// Resume restarts a paused, halted or canary batch: the dispatcher queues
// its pending items again and every item in progress gets its follow job,
// stuck items included. On a running batch it only does the latter. Items
// counts the batch's open items.
func (c *Controller) Resume(ctx context.Context, name string) (Result, error) {
	return c.change(ctx, name, upgrade.BatchRunning, "resumed by operator",
		func(tx pgx.Tx, st *store.Store, b store.Batch) (int, error) {
			items, err := st.InProgressItems(ctx, b.ID)
			if err != nil {
				return 0, err
			}
			counts, err := st.StatusCounts(ctx, b.ID)
			if err != nil {
				return 0, err
			}
			return len(items) + counts[upgrade.StatusPending], c.enq.EnqueueFollows(ctx, tx, b.Operation, items)
		})
}

// Cancel cancels a batch's pending items. Items Partner Center is already
// working on cannot be cancelled there; they are followed to their final
// state.
func (c *Controller) Cancel(ctx context.Context, name string) (Result, error) {
	return c.change(ctx, name, upgrade.BatchCancelled, "cancelled by operator",
		func(_ pgx.Tx, st *store.Store, b store.Batch) (int, error) {
			return st.CancelPending(ctx, b.ID, "batch cancelled by operator", c.who)
		})
}

// RetryFailed re-runs a batch's failed items (only those with errorCode
// when it is not empty) in a new generation, keeping their earlier attempts.
// A completed batch runs again; a paused or halted one queues them on
// resume.
func (c *Controller) RetryFailed(ctx context.Context, name, errorCode string) (Result, error) {
	var res Result
	err := c.store.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		b, err := st.LockBatch(ctx, name)
		if err != nil {
			return err
		}
		if b.Status == upgrade.BatchCancelled {
			return fmt.Errorf("batch %q is cancelled: %w", name, ErrRefused)
		}
		res = Result{Batch: name, From: b.Status, To: b.Status}
		ids, err := st.RetryFailed(ctx, b.ID, errorCode, "retry requested by operator", c.who)
		if err != nil {
			return err
		}
		res.Items = len(ids)
		if len(ids) == 0 {
			return nil
		}
		if b.Status == upgrade.BatchCompleted {
			if _, err := st.SetBatchStatus(ctx, b.ID, upgrade.BatchRunning, fmt.Sprintf("retrying %d failed item(s)", len(ids))); err != nil {
				return err
			}
			res.To = upgrade.BatchRunning
		}
		return nil
	})
	return res, err
}

func (c *Controller) change(ctx context.Context, name string, to upgrade.BatchStatus, reason string,
	then func(pgx.Tx, *store.Store, store.Batch) (int, error)) (Result, error) {
	var res Result
	err := c.store.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		b, err := st.LockBatch(ctx, name)
		if err != nil {
			return err
		}
		res = Result{Batch: name, From: b.Status, To: to}
		if b.Status != to || to != upgrade.BatchRunning {
			before, err := st.SetBatchStatus(ctx, b.ID, to, reason)
			if errors.Is(err, store.ErrBatchStatus) {
				return fmt.Errorf("%w: %w", ErrRefused, err)
			}
			if err != nil {
				return err
			}
			res.From = before.Status
		}
		if then != nil {
			b.Status = to
			n, err := then(tx, st, b)
			if err != nil {
				return err
			}
			res.Items = n
		}
		return nil
	})
	return res, err
}
