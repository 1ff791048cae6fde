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
//
// Exactly once: the create request is stored before it is sent
// (prepareCreate). An attempt whose outcome is unknown (timeout, 5xx,
// transport error, a lost or cut answer, a kill) is resolved before
// anything else: the same request is sent again, byte for byte, under the
// same MS-RequestId, which Partner Center answers with the first result;
// when the repeat is refused (a 409 pending operation, or a 4xx), the
// subscription's transition history is read and a transition begun by this
// attempt is adopted. Eligibilities are never asked again for it.
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

	// A request prepared earlier in this attempt (and maybe sent, with no
	// answer, or throttled) is sent as it is: neither the history nor the
	// eligibilities are read again first.
	body, prepared, err := preparedCreate[partnercenter.Transition](it)
	if err != nil {
		return err
	}
	if !prepared {
		var done bool
		body, done, err = w.choose(ctx, job, &it)
		if done || err != nil {
			return err
		}
	}

	if err := gated(ctx, d, it, partnercenter.OpTransitionCreate, ratelimit.Work); err != nil {
		return err
	}
	if !it.CreateUnknown {
		if err := d.Store.MarkCreateSent(ctx, it.ID); err != nil {
			return err
		}
	}
	created, resp, err := d.Transitions.Create(ctx, call(it, createRequestID(it)), it.CustomerID, it.SubscriptionID, body)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err == nil {
		return adopt(ctx, d, it, created.OperationID, "created transition")
	}
	if partnercenter.IsConflict(err) || ownStateRefusal(it, err) {
		// 409/900278 (an operation is pending on the subscription), or a
		// refusal of a repeat whose first request got no answer: the
		// history says whether that request began a transition.
		if done, herr := w.adoptExisting(ctx, job, it); done || herr != nil {
			return herr
		}
	}
	if definiteAnswer(err) {
		if aerr := d.Store.AdvanceCreateRequest(ctx, it.ID); aerr != nil {
			return aerr
		}
	}
	if partnercenter.IsConflict(err) {
		return fmt.Errorf("subscription %s has a pending operation; adopting it on retry: %w", it.SubscriptionID, err)
	}
	return outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionCreate, err)
}

// adoptExisting reads the subscription's transition history and adopts a
// running transition, or one begun since this generation started, that no
// earlier generation carried: work this job created before it crashed, timed
// out or lost the answer, or work made outside the service. done reports
// that the job is over (adopted, or settled in a dry run, or the read
// failed and err says what River does).
func (w *CreateTransitionWorker) adoptExisting(ctx context.Context, job *river.Job[CreateTransitionArgs], it store.Item) (bool, error) {
	d := w.deps
	if err := gated(ctx, d, it, partnercenter.OpTransitionList, ratelimit.Work); err != nil {
		return true, err
	}
	history, resp, err := d.Transitions.List(ctx, call(it, ""), it.CustomerID, it.SubscriptionID, "")
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return true, rerr
	}
	if err != nil {
		return true, outcome(ctx, d, job.JobRow, it, partnercenter.OpTransitionList, err)
	}
	earlier, err := d.Store.EarlierUpgradeIDs(ctx, it.ID, it.Generation)
	if err != nil {
		return true, err
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
			return true, settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
				Reason: "dry run: transition " + t.OperationID + " exists and would be adopted"})
		}
		if err := d.Store.ChooseTarget(ctx, it.ID, t.ToCatalogItemID, t.TransitionType); err != nil {
			return true, err
		}
		return true, adopt(ctx, d, it, t.OperationID, "adopted existing transition")
	}
	return false, nil
}

// choose adopts an existing transition, or checks the eligibilities and
// picks the target: it settles the item when there is none (or in a dry
// run) and reports done; otherwise it prepares the create request and
// returns it.
func (w *CreateTransitionWorker) choose(ctx context.Context, job *river.Job[CreateTransitionArgs], it *store.Item) (partnercenter.Transition, bool, error) {
	d := w.deps
	var none partnercenter.Transition
	if done, err := w.adoptExisting(ctx, job, *it); done || err != nil {
		return none, true, err
	}

	typ := it.Options.TransitionType
	if typ == "" {
		typ = partnercenter.TransitionTypeOnly
	}
	if err := gated(ctx, d, *it, partnercenter.OpTransitionEligibility, ratelimit.Work); err != nil {
		return none, true, err
	}
	items, resp, err := d.Transitions.Eligibilities(ctx, call(*it, ""), it.CustomerID, it.SubscriptionID, partnercenter.EligibilityImmediate)
	if rerr := record(ctx, d, *it, resp, err); rerr != nil {
		return none, true, rerr
	}
	if err != nil {
		return none, true, outcome(ctx, d, job.JobRow, *it, partnercenter.OpTransitionEligibility, err)
	}
	// A named existing subscription is checked against the target
	// subscriptions Partner Center lists for the chosen catalog item before
	// anything is created.
	toSub := it.Options.ToSubscriptionID
	target, no := chooseTransition(narrowToSubscription(items, it.TargetID, toSub), it.TargetID, typ, it.SubscriptionID)
	if no == nil && toSub != "" {
		no = checkTargetSubscription(target, toSub)
	}
	if no != nil || it.DryRun {
		if err := d.Store.ChooseTarget(ctx, it.ID, target.CatalogItemID, typ); err != nil {
			return none, true, err
		}
	}
	if no != nil {
		reason := no.reason
		if reason == "" {
			reason = "no transition target"
		}
		return none, true, settle(ctx, d, *it, store.Transition{From: upgrade.StatusPending, To: no.status,
			Reason: reason, ErrorCode: no.code, ErrorMessage: no.message})
	}
	if it.DryRun {
		reason := "dry run: would transition to " + target.CatalogItemID
		if toSub != "" {
			reason += " into subscription " + toSub + ", which Partner Center lists as an eligible target subscription"
		}
		return none, true, settle(ctx, d, *it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible, Reason: reason})
	}

	body := partnercenter.Transition{
		FromSubscriptionID: it.SubscriptionID,
		ToCatalogItemID:    target.CatalogItemID,
		ToSubscriptionID:   it.Options.ToSubscriptionID,
		Quantity:           it.Options.Quantity,
		TermDuration:       it.Options.TermDuration,
		BillingCycle:       it.Options.BillingCycle,
		TransitionType:     typ,
		PromotionID:        it.Options.PromotionID,
		FromCatalogItemID:  it.Options.FromCatalogItemID,
	}
	if body.Quantity == 0 {
		body.Quantity = max(target.Quantity, 1)
	}
	body, err = prepareCreate(ctx, d, it, body, target.CatalogItemID, typ)
	return body, err != nil, err
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
		if tr.Unknown() {
			return unknownStatus(ctx, d, it, last)
		}
		if err := d.Store.RecordPoll(ctx, it.ID, it.Generation, last); err != nil {
			return err
		}
		return nextPoll(ctx, d, it)
	}
	return finishTransition(ctx, d, it, tr)
}

// finishTransition stores a final transition's events (one detail per
// error of each event) and settles the item: completed when every event
// completed; completed and flagged for attention (CodeEventsFailed) when
// the subscription was converted but a later event failed, so that a retry
// of failed items never transitions it again; failed otherwise, with the
// first error of the failed events.
func finishTransition(ctx context.Context, d *Deps, it store.Item, tr *partnercenter.Transition) error {
	t := store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted, Reason: "transition completed", Worker: d.Worker}
	status := "Completed"
	code, text := failedEvents(tr)
	switch {
	case tr.Succeeded():
	case tr.Partial():
		t.Attention, t.Reason = true, "transition converted the subscription, a later event failed"
		t.ErrorCode, t.ErrorMessage = CodeEventsFailed, "the subscription was converted but a later event failed: "+text
	default:
		t.To, t.Reason, status = upgrade.StatusFailed, "transition failed", "Failed"
		t.ErrorCode, t.ErrorMessage = code, text
	}
	details := eventDetails(tr.Events)
	return finish(ctx, d, it, t, func(s *store.Store) error {
		if err := s.FinishUpgrade(ctx, it.ID, it.Generation, status, nil); err != nil {
			return err
		}
		return s.ReplaceDetails(ctx, it.ID, it.Generation, details)
	})
}
