package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// adoptWindow is how long before an item's generation began a transition
// may have started and still be taken as this generation's work (it covers
// clock differences with Partner Center).
const adoptWindow = 5 * time.Minute

// CreateTransitionArgs asks for one item's transition to be created.
type CreateTransitionArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
}

// Kind implements river.JobArgs. Persisted: never rename.
func (CreateTransitionArgs) Kind() string { return "create_transition" }

// InsertOpts makes the job unique per item while it is live.
func (CreateTransitionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: liveUnique()}
}

// CreateTransitionWorker adopts a transition that already exists for the
// subscription, or checks eligibilities, picks the target and creates one.
type CreateTransitionWorker struct {
	river.WorkerDefaults[CreateTransitionArgs]
	deps *Deps
}

// NewCreateTransitionWorker returns the worker for create_transition jobs.
func NewCreateTransitionWorker(d *Deps) *CreateTransitionWorker {
	return &CreateTransitionWorker{deps: d}
}

// Work implements river.Worker.
func (w *CreateTransitionWorker) Work(ctx context.Context, job *river.Job[CreateTransitionArgs]) error {
	d := w.deps
	it, release, ok, err := claim(ctx, d, job.Args.ItemID, upgrade.StatusPending)
	if !ok {
		return err
	}
	defer release()

	// The subscription's transition history reveals one this job created
	// before it crashed or timed out, or one made outside the service: a
	// running transition, or one begun since this generation started, is
	// adopted, never created again.
	if err := gated(ctx, d, it, partnercenter.OpTransitionList, ratelimit.Work); err != nil {
		return err
	}
	history, resp, err := d.Transitions.List(ctx, call(it, ""), it.CustomerID, it.SubscriptionID, "")
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionList, err)
	}
	earlier, err := d.Store.EarlierUpgradeIDs(ctx, it.ID, it.Generation)
	if err != nil {
		return err
	}
	for _, t := range history {
		if t.OperationID == "" || earlier[lower(t.OperationID)] {
			continue
		}
		started := transitionStart(t)
		if t.Terminal() && (started == nil || started.Before(it.StatusChangedAt.Add(-adoptWindow))) {
			continue // an old, finished transition: not this item's work
		}
		if it.DryRun {
			return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
				Reason: "dry run: transition " + t.OperationID + " exists and would be adopted"})
		}
		if err := d.Store.ChooseTarget(ctx, it.ID, t.ToCatalogItemID, t.TransitionType); err != nil {
			return err
		}
		return adopt(ctx, d, it, t.OperationID, "adopted existing transition")
	}

	typ := it.Options.TransitionType
	if typ == "" {
		typ = partnercenter.TransitionTypeOnly
	}
	if err := gated(ctx, d, it, partnercenter.OpTransitionEligibility, ratelimit.Work); err != nil {
		return err
	}
	items, resp, err := d.Transitions.Eligibilities(ctx, call(it, ""), it.CustomerID, it.SubscriptionID, partnercenter.EligibilityImmediate)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionEligibility, err)
	}
	target, no := chooseTransition(items, it.TargetID, typ, it.SubscriptionID)
	if err := d.Store.ChooseTarget(ctx, it.ID, target.CatalogItemID, typ); err != nil {
		return err
	}
	if no != nil {
		return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: no.status,
			Reason: "no transition target", ErrorCode: no.code, ErrorMessage: no.message})
	}
	if it.DryRun {
		return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
			Reason: "dry run: would transition to " + target.CatalogItemID})
	}

	body := partnercenter.Transition{
		FromSubscriptionID: it.SubscriptionID,
		ToCatalogItemID:    target.CatalogItemID,
		ToSubscriptionID:   it.Options.ToSubscriptionID,
		Quantity:           it.Options.Quantity,
		TermDuration:       it.Options.TermDuration,
		BillingCycle:       it.Options.BillingCycle,
		TransitionType:     typ,
	}
	if body.Quantity == 0 {
		body.Quantity = max(target.Quantity, 1)
	}
	if err := gated(ctx, d, it, partnercenter.OpTransitionCreate, ratelimit.Work); err != nil {
		return err
	}
	if err := d.Store.MarkCreateSent(ctx, it.ID); err != nil {
		return err
	}
	created, resp, err := d.Transitions.Create(ctx, call(it, createRequestID(it)), it.CustomerID, it.SubscriptionID, body)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil && definiteAnswer(resp) {
		if aerr := d.Store.AdvanceCreateRequest(ctx, it.ID); aerr != nil {
			return aerr
		}
	}
	if partnercenter.IsConflict(err) {
		// 409/900278: an operation is pending on the subscription. The next
		// attempt's history check finds and adopts it.
		return fmt.Errorf("subscription %s has a pending operation; adopting it on retry: %w", it.SubscriptionID, err)
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionCreate, err)
	}
	return adopt(ctx, d, it, created.OperationID, "created transition")
}

// transitionStart is when a transition began: its earliest event.
func transitionStart(t partnercenter.Transition) *time.Time {
	var first *time.Time
	for _, e := range t.Events {
		if e.Timestamp != nil && (first == nil || e.Timestamp.Before(*first)) {
			first = e.Timestamp
		}
	}
	return first
}

// PollTransitionArgs asks for the events of one item's transition.
type PollTransitionArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
	// NotBefore delays the first poll (see firstPoll); not part of uniqueness.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// Kind implements river.JobArgs. Persisted: never rename.
func (PollTransitionArgs) Kind() string { return "poll_transition" }

// InsertOpts makes the job unique per item while it is live.
func (PollTransitionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: liveUnique()}
}

// PollTransitionWorker follows a transition's events until it is final.
type PollTransitionWorker struct {
	river.WorkerDefaults[PollTransitionArgs]
	deps *Deps
}

// NewPollTransitionWorker returns the worker for poll_transition jobs.
func NewPollTransitionWorker(d *Deps) *PollTransitionWorker {
	return &PollTransitionWorker{deps: d}
}

// Work implements river.Worker.
func (w *PollTransitionWorker) Work(ctx context.Context, job *river.Job[PollTransitionArgs]) error {
	d := w.deps
	it, release, ok, err := claimFollow(ctx, d, job.Args.ItemID, job.Args.NotBefore)
	if !ok {
		return err
	}
	defer release()
	if err := gatedPoll(ctx, d, it, partnercenter.OpTransitionList); err != nil {
		return err
	}
	list, resp, err := d.Transitions.List(ctx, call(it, ""), it.CustomerID, it.SubscriptionID, it.UpgradeID)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionList, err)
	}
	var tr *partnercenter.Transition
	for i := range list {
		if lower(list[i].OperationID) == lower(it.UpgradeID) {
			tr = &list[i]
		}
	}
	if tr == nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionList,
			fmt.Errorf("transition %s of subscription %s is not in its history yet", it.UpgradeID, it.SubscriptionID))
	}
	if !tr.Terminal() {
		last := ""
		if n := len(tr.Events); n > 0 {
			last = tr.Events[n-1].Name + " " + tr.Events[n-1].Status
		}
		if err := d.Store.RecordPoll(ctx, it.ID, it.Generation, last); err != nil {
			return err
		}
		return nextPoll(ctx, d, it)
	}
	return finishTransition(ctx, d, it, tr)
}

// finishTransition stores a final transition's events and settles the item.
func finishTransition(ctx context.Context, d *Deps, it store.Item, tr *partnercenter.Transition) error {
	details := make([]store.Detail, 0, len(tr.Events))
	t := store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted, Reason: "transition completed", Worker: d.Worker}
	status := "Completed"
	if !tr.Succeeded() {
		t.To, t.Reason, status = upgrade.StatusFailed, "transition failed", "Failed"
	}
	for _, e := range tr.Events {
		det := store.Detail{Kind: store.DetailEvent, Name: e.Name, Status: e.Status, OccurredAt: e.Timestamp}
		if len(e.Errors) > 0 {
			det.Code, det.Message = e.Errors[0].Code.String(), e.Errors[0].Description
			if t.To == upgrade.StatusFailed && t.ErrorCode == "" {
				t.ErrorCode, t.ErrorMessage = det.Code, fmt.Sprintf("%s %s: %s", e.Name, e.Status, det.Message)
			}
		}
		details = append(details, det)
	}
	return finish(ctx, d, it, t, func(s *store.Store) error {
		if err := s.FinishUpgrade(ctx, it.ID, it.Generation, status, nil); err != nil {
			return err
		}
		return s.ReplaceDetails(ctx, it.ID, it.Generation, details)
	})
}
