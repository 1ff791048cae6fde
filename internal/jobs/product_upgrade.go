package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// CreateUpgradeArgs asks for one item's product upgrade to be created.
type CreateUpgradeArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
}

// Kind implements river.JobArgs. Persisted: never rename.
func (CreateUpgradeArgs) Kind() string { return "create_upgrade" }

// InsertOpts makes the job unique per item while it is live, so reconcile
// and imports can never queue it twice.
func (CreateUpgradeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: liveUnique()}
}

// CreateUpgradeWorker checks eligibility and creates the upgrade.
type CreateUpgradeWorker struct {
	river.WorkerDefaults[CreateUpgradeArgs]
	deps *Deps
}

// NewCreateUpgradeWorker returns the worker for create_upgrade jobs.
func NewCreateUpgradeWorker(d *Deps) *CreateUpgradeWorker {
	return &CreateUpgradeWorker{deps: d}
}

// Work implements river.Worker.
func (w *CreateUpgradeWorker) Work(ctx context.Context, job *river.Job[CreateUpgradeArgs]) error {
	d := w.deps
	it, release, ok, err := claim(ctx, d, job.Args.ItemID, upgrade.StatusPending)
	if !ok {
		return err
	}
	defer release()
	req := partnercenter.ProductUpgradesRequest{CustomerID: it.CustomerID, ProductFamily: it.ProductFamily}

	// Eligibility also reveals an upgrade that already exists for the
	// customer: one this job created before it crashed or timed out, or one
	// made outside the service. Such an upgrade is adopted, never created
	// again (unless it is the failed upgrade of an earlier generation that
	// an operator retried).
	if err := gated(ctx, d, it, partnercenter.OpProductUpgradeEligibility, ratelimit.Work); err != nil {
		return err
	}
	el, resp, err := d.Upgrades.Eligibility(ctx, call(it, ""), req)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpProductUpgradeEligibility, err)
	}
	if el.UpgradeID != "" {
		earlier, err := d.Store.EarlierUpgradeIDs(ctx, it.ID, it.Generation)
		if err != nil {
			return err
		}
		if !earlier[lower(el.UpgradeID)] {
			if it.DryRun {
				return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
					Reason: "dry run: an upgrade already exists and would be adopted", ErrorMessage: el.Reason})
			}
			return adopt(ctx, d, it, el.UpgradeID, "adopted existing upgrade")
		}
	}
	if !el.IsEligible && el.UpgradeID == "" {
		return settle(ctx, d, it, store.Transition{
			From: upgrade.StatusPending, To: upgrade.StatusIneligible, Reason: "not eligible", ErrorMessage: el.Reason,
		})
	}
	if it.DryRun {
		return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible, Reason: "dry run: eligible"})
	}

	if err := gated(ctx, d, it, partnercenter.OpProductUpgradeCreate, ratelimit.Work); err != nil {
		return err
	}
	if err := d.Store.MarkCreateSent(ctx, it.ID); err != nil {
		return err
	}
	id, resp, err := d.Upgrades.Create(ctx, call(it, createRequestID(it)), req)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil && definiteAnswer(err) {
		if aerr := d.Store.AdvanceCreateRequest(ctx, it.ID); aerr != nil {
			return aerr
		}
	}
	if partnercenter.IsConflict(err) {
		// 409/900109: an upgrade is already in progress for this customer.
		// The next attempt's eligibility check names it and adopts it.
		return fmt.Errorf("customer %s already has an upgrade in progress; adopting it on retry: %w", it.CustomerID, err)
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpProductUpgradeCreate, err)
	}
	return adopt(ctx, d, it, id, "created upgrade")
}

// PollStatusArgs asks for the status of one item's upgrade.
type PollStatusArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
	// NotBefore delays the first poll (see firstPoll); not part of uniqueness.
	NotBefore time.Time `json:"not_before,omitzero"`
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
	it, release, ok, err := claimFollow(ctx, d, job.Args.ItemID, job.Args.NotBefore)
	if !ok {
		return err
	}
	defer release()
	req := partnercenter.ProductUpgradesRequest{CustomerID: it.CustomerID, ProductFamily: it.ProductFamily}
	if err := gatedPoll(ctx, d, it, partnercenter.OpProductUpgradeStatus); err != nil {
		return err
	}
	st, resp, err := d.Upgrades.Status(ctx, call(it, ""), it.UpgradeID, req)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpProductUpgradeStatus, err)
	}
	if st.Unknown() {
		return unknownStatus(ctx, d, it, st.Status)
	}
	if !st.Terminal() {
		if err := d.Store.RecordPoll(ctx, it.ID, it.Generation, st.Status); err != nil {
			return err
		}
		return nextPoll(ctx, d, it)
	}
	return finishUpgrade(ctx, d, it, st)
}

// finishUpgrade stores the final status and line items and settles the
// item: failed when the upgrade failed (with the top-level errorDetails, or
// the first failed line item's when there is none); completed when it
// completed, flagged for attention when it completed only in part (a
// top-level errorDetails, which then explains the item, or line items that
// did not complete: CodeLineItemsFailed). Each line item keeps its own
// error.
func finishUpgrade(ctx context.Context, d *Deps, it store.Item, st *partnercenter.ProductUpgradesStatus) error {
	lines := make([]store.LineItem, 0, len(st.LineItems))
	var firstFailure *partnercenter.ErrorDetails
	unfinished := 0
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
		if !li.Succeeded() || li.ErrorDetails.Present() {
			unfinished++
		}
		lines = append(lines, l)
	}
	t := store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted, Reason: "upgrade " + st.Status, Worker: d.Worker}
	switch {
	case !st.Succeeded():
		t.To = upgrade.StatusFailed
		details := st.ErrorDetails
		if !details.Present() {
			details = firstFailure
		}
		if details != nil {
			t.ErrorCode, t.ErrorMessage = details.Code, details.Text()
		}
	case st.Partial():
		t.Attention, t.Reason = true, "upgrade "+st.Status+", in part"
		if st.ErrorDetails.Present() {
			t.ErrorCode, t.ErrorMessage = st.ErrorDetails.Code, st.ErrorDetails.Text()
			if unfinished > 0 {
				t.ErrorMessage += fmt.Sprintf(" (and %d of %d line item(s) did not complete: see the line item rows)", unfinished, len(lines))
			}
		} else {
			t.ErrorCode = CodeLineItemsFailed
			t.ErrorMessage = fmt.Sprintf("the upgrade completed but %d of %d line item(s) did not: see the line item rows", unfinished, len(lines))
		}
	}
	return finish(ctx, d, it, t, func(s *store.Store) error {
		return s.FinishUpgrade(ctx, it.ID, it.Generation, st.Status, lines)
	})
}

// finish writes an item's results and its final status together, fenced by
// the job's lease: a job that lost it writes nothing.
func finish(ctx context.Context, d *Deps, it store.Item, t store.Transition, results func(*store.Store) error) error {
	t.Lease = it.Lease
	err := d.Store.InTx(ctx, func(_ pgx.Tx, s *store.Store) error {
		if err := results(s); err != nil {
			return err
		}
		return s.TransitionItem(ctx, it.ID, t)
	})
	if isStale(err) {
		return nil
	}
	if errors.Is(err, store.ErrLeaseLost) {
		return leaseLost(ctx, d, it, err)
	}
	if err == nil {
		settled(ctx, d, it, t)
		if t.Attention {
			observeAttention(d, it, t.ErrorCode)
		}
	}
	return err
}
