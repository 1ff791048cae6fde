package jobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// PollStatusArgs asks for the status of one item's upgrade.
type PollStatusArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
}

// Kind implements river.JobArgs. Persisted: never rename.
func (PollStatusArgs) Kind() string { return "poll_upgrade_status" }

// InsertOpts makes the job unique per item while it is live.
func (PollStatusArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: liveUnique()}
}

// PollStatusWorker polls an upgrade until it is final. Between polls the
// job snoozes, which holds no worker slot and uses no attempt.
type PollStatusWorker struct {
	river.WorkerDefaults[PollStatusArgs]
	deps *Deps
}

// NewPollStatusWorker returns the worker for poll_upgrade_status jobs.
func NewPollStatusWorker(d *Deps) *PollStatusWorker {
	return &PollStatusWorker{deps: d}
}

// Work implements river.Worker.
func (w *PollStatusWorker) Work(ctx context.Context, job *river.Job[PollStatusArgs]) error {
	d := w.deps
	it, err := d.Store.Item(ctx, job.Args.ItemID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if it.Status != upgrade.StatusInProgress || it.UpgradeID == "" {
		return nil
	}
	req := partnercenter.ProductUpgradesRequest{CustomerID: it.CustomerID, ProductFamily: it.ProductFamily}
	if err := gated(d, partnercenter.OpProductUpgradeStatus); err != nil {
		return err
	}
	st, resp, err := d.Upgrades.Status(ctx, partnercenter.Call{CorrelationID: it.CorrelationID}, it.UpgradeID, req)
	record(ctx, d, it, resp, err)
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpProductUpgradeStatus, err)
	}
	if !st.Terminal() {
		if err := d.Store.RecordPoll(ctx, it.ID, st.Status); err != nil {
			return err
		}
		return river.JobSnooze(pollDelay(d.PollInitial, d.PollMax, it.PollCount+1))
	}
	return finish(ctx, d, it, st)
}

// finish stores the final status and line items and settles the item.
func finish(ctx context.Context, d *Deps, it store.Item, st *partnercenter.ProductUpgradesStatus) error {
	lines := make([]store.LineItem, 0, len(st.LineItems))
	var firstFailure *partnercenter.ErrorDetails
	for _, li := range st.LineItems {
		l := store.LineItem{
			SourceProductID: li.SourceProduct.ID, SourceProductName: li.SourceProduct.Name,
			TargetProductID: li.TargetProduct.ID, TargetProductName: li.TargetProduct.Name,
			Status: li.Status, UpgradedDate: li.UpgradedDate,
		}
		if li.ErrorDetails != nil {
			l.ErrorCode, l.ErrorMessage = li.ErrorDetails.Code, li.ErrorDetails.Text()
			if firstFailure == nil {
				firstFailure = li.ErrorDetails
			}
		}
		lines = append(lines, l)
	}
	t := store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted, Reason: "upgrade " + st.Status}
	if !st.Succeeded() {
		t.To = upgrade.StatusFailed
		details := st.ErrorDetails
		if details == nil {
			details = firstFailure
		}
		if details != nil {
			t.ErrorCode, t.ErrorMessage = details.Code, details.Text()
		}
	}
	err := d.Store.InTx(ctx, func(_ pgx.Tx, s *store.Store) error {
		if err := s.FinishUpgrade(ctx, it.ID, st.Status, lines); err != nil {
			return err
		}
		return s.TransitionItem(ctx, it.ID, t)
	})
	if errors.Is(err, store.ErrStaleStatus) {
		return nil
	}
	return err
}

// pollDelay is the wait before poll number n (1-based): initial doubled per
// poll, capped at max, with ±20% jitter so polls of a batch spread out.
func pollDelay(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := 0.8 + 0.4*rand.Float64() //nolint:gosec // jitter, not security
	return time.Duration(float64(d) * jitter)
}
