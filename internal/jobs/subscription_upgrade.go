package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// SubscriptionUpgradeArgs asks for one item's subscription to be upgraded.
type SubscriptionUpgradeArgs struct {
	ItemID int64 `json:"item_id" river:"unique"`
}

// Kind implements river.JobArgs. Persisted: never rename.
func (SubscriptionUpgradeArgs) Kind() string { return "perform_subscription_upgrade" }

// InsertOpts makes the job unique per item while it is live.
func (SubscriptionUpgradeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: liveUnique()}
}

// SubscriptionUpgradeWorker lists a subscription's upgrades, picks the
// target and performs the upgrade. Partner Center answers synchronously with
// an UpgradeResult, so there is nothing to poll.
//
// Exactly once: Partner Center has no endpoint that lists upgrades already
// performed, so the guard is the create MS-RequestId. It is deterministic
// per item, generation and sequence, and the request it names is stored
// before it is sent (prepareCreate). An attempt whose outcome is unknown
// (timeout, 5xx, transport error, a lost or cut answer, a kill) is resolved
// before anything else: the same request is sent again, byte for byte,
// under the same MS-RequestId, which Partner Center answers with the first
// result; the upgrades are not listed again, since after the lost upgrade
// they only say the source is no longer active. Only a definite answer
// about the request moves the MS-RequestId on (definiteAnswer); a refusal
// of the repeat that the first request may have caused (800012) flags the
// item for attention instead of failing it (unconfirmed).
type SubscriptionUpgradeWorker struct {
	river.WorkerDefaults[SubscriptionUpgradeArgs]
	deps *Deps
}

// NewSubscriptionUpgradeWorker returns the worker for
// perform_subscription_upgrade jobs.
func NewSubscriptionUpgradeWorker(d *Deps) *SubscriptionUpgradeWorker {
	return &SubscriptionUpgradeWorker{deps: d}
}

// Work implements river.Worker.
func (w *SubscriptionUpgradeWorker) Work(ctx context.Context, job *river.Job[SubscriptionUpgradeArgs]) error {
	d := w.deps
	it, release, ok, err := claim(ctx, d, job.Args.ItemID, upgrade.StatusPending)
	if !ok {
		return err
	}
	defer release()

	// A request prepared earlier in this attempt (and maybe sent, with no
	// answer, or throttled) is sent as it is: nothing is listed again.
	chosen, prepared, err := preparedCreate[partnercenter.Upgrade](it)
	if err != nil {
		return err
	}
	if !prepared {
		var done bool
		chosen, done, err = w.choose(ctx, job, &it)
		if done || err != nil {
			return err
		}
	}

	if err := gated(ctx, d, it, partnercenter.OpSubscriptionUpgradePerform, ratelimit.Work); err != nil {
		return err
	}
	if !it.CreateUnknown {
		if err := d.Store.MarkCreateSent(ctx, it.ID); err != nil {
			return err
		}
	}
	res, resp, err := d.Subscriptions.Perform(ctx, call(it, createRequestID(it)), it.CustomerID, it.SubscriptionID, chosen)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err == nil {
		return recordUpgradeResult(ctx, d, it, chosen, res)
	}
	if ownStateRefusal(it, err) && partnercenter.ErrorCode(err) == "800012" {
		return unconfirmed(ctx, d, it, "subscription upgrade to "+chosen.TargetOffer.ID, answerText(err))
	}
	if definiteAnswer(err) {
		if aerr := d.Store.AdvanceCreateRequest(ctx, it.ID); aerr != nil {
			return aerr
		}
	}
	return outcome(ctx, d, job.JobRow, it, partnercenter.OpSubscriptionUpgradePerform, err)
}

// choose lists the subscription's upgrades and picks the target: it
// settles the item when there is none (or in a dry run) and reports done;
// otherwise it prepares the perform request and returns it.
func (w *SubscriptionUpgradeWorker) choose(ctx context.Context, job *river.Job[SubscriptionUpgradeArgs], it *store.Item) (partnercenter.Upgrade, bool, error) {
	d := w.deps
	var none partnercenter.Upgrade
	if err := gated(ctx, d, *it, partnercenter.OpSubscriptionUpgradeList, ratelimit.Work); err != nil {
		return none, true, err
	}
	paths, resp, err := d.Subscriptions.List(ctx, call(*it, ""), it.CustomerID, it.SubscriptionID)
	if rerr := record(ctx, d, *it, resp, err); rerr != nil {
		return none, true, rerr
	}
	if err != nil {
		return none, true, outcome(ctx, d, job.JobRow, *it, partnercenter.OpSubscriptionUpgradeList, err)
	}
	chosen, no := chooseUpgrade(paths, it.TargetID, it.SubscriptionID)
	if it.Options.UpgradeType != "" {
		t, ok := partnercenter.ParseUpgradeType(it.Options.UpgradeType)
		if !ok {
			return none, true, failItem(ctx, d, *it, fmt.Errorf("upgrade_type %q: not an upgrade type", it.Options.UpgradeType))
		}
		chosen.UpgradeType = t
	}
	if no != nil || it.DryRun {
		if err := d.Store.ChooseTarget(ctx, it.ID, chosen.TargetOffer.ID, chosen.UpgradeType.String()); err != nil {
			return none, true, err
		}
	}
	if no != nil && it.CreateUnknown {
		// Only an item whose create was sent by an earlier version of the
		// service, without a stored request, gets here: what the list says
		// may be the work of that request.
		return none, true, unconfirmed(ctx, d, *it, "subscription upgrade",
			fmt.Sprintf("that no upgrade is possible: %s (%s)", no.code, no.message))
	}
	if no != nil {
		return none, true, settle(ctx, d, *it, store.Transition{From: upgrade.StatusPending, To: no.status,
			Reason: "no upgrade target", ErrorCode: no.code, ErrorMessage: no.message})
	}
	if it.DryRun {
		return none, true, settle(ctx, d, *it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
			Reason: "dry run: would upgrade to " + chosen.TargetOffer.ID})
	}
	chosen, err = prepareCreate(ctx, d, it, chosen, chosen.TargetOffer.ID, chosen.UpgradeType.String())
	return chosen, err != nil, err
}

// recordUpgradeResult stores an UpgradeResult, moves the item's create to
// a new MS-RequestId and settles the item in one transaction: failed when
// Partner Center reported upgrade errors; completed otherwise, flagged for
// attention (CodeLicenseErrors) when it reported user license faults (the
// subscription was upgraded and must not be upgraded again). Every upgrade
// error and license fault is kept as a detail.
func recordUpgradeResult(ctx context.Context, d *Deps, it store.Item, chosen partnercenter.Upgrade, res *partnercenter.UpgradeResult) error {
	details := upgradeErrorDetails(res.UpgradeErrors)
	licenseFaults := licenseErrorDetails(res.LicenseErrors)
	details = append(details, licenseFaults...)
	// Both changes are fenced by the job's lease: a process that lost it
	// writes nothing, and the process now holding the item repeats the same
	// MS-RequestId and records the answer.
	begin := store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress,
		Reason: "performed upgrade to " + chosen.TargetOffer.ID, Worker: d.Worker, Lease: it.Lease}
	end := store.Transition{From: upgrade.StatusInProgress, To: upgrade.StatusCompleted,
		Reason: "upgraded to subscription " + res.TargetSubscriptionID, Worker: d.Worker}
	status := "Completed"
	switch {
	case len(res.UpgradeErrors) > 0:
		e := res.UpgradeErrors[0]
		end.To, end.Reason = upgrade.StatusFailed, "upgrade reported errors"
		end.ErrorCode, end.ErrorMessage = e.CodeText(), errorText(e.Description, e.AdditionalDetails, "")
		if n := len(res.UpgradeErrors); n > 1 {
			end.ErrorMessage += fmt.Sprintf(" (and %d more upgrade error(s): see the detail rows)", n-1)
		}
		status = "Failed"
	case len(licenseFaults) > 0:
		end.Attention = true
		end.ErrorCode = CodeLicenseErrors
		end.ErrorMessage = fmt.Sprintf("the subscription was upgraded but %d user license fault(s) of %d user(s) were reported; see the detail rows",
			len(licenseFaults), len(res.LicenseErrors))
	}
	// The whole answer is written with the item's final status (finish, so
	// fenced by the job's lease like begin).
	return finish(ctx, d, it, end, func(s *store.Store) error {
		// The answer and the next MS-RequestId commit together: a crash
		// before this repeats the same request, which Partner Center
		// recognises instead of upgrading again.
		if err := s.AdvanceCreateRequest(ctx, it.ID); err != nil {
			return err
		}
		if err := s.TransitionItem(ctx, it.ID, begin); err != nil {
			return err
		}
		if res.TargetSubscriptionID != "" {
			if err := s.AdoptUpgrade(ctx, it.ID, it.Generation, res.TargetSubscriptionID); err != nil {
				return err
			}
			if err := s.FinishUpgrade(ctx, it.ID, it.Generation, status, nil); err != nil {
				return err
			}
		}
		return s.ReplaceDetails(ctx, it.ID, it.Generation, details)
	})
}
