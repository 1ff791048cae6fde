package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
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
// per item, generation and sequence and is repeated after any unknown
// outcome (timeout, 5xx, crash), so a repeat is recognised and answered with
// the first result; and Partner Center refuses a second upgrade of a source
// that is no longer active (400/800012).
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

	if err := gated(ctx, d, it, partnercenter.OpSubscriptionUpgradeList, ratelimit.Work); err != nil {
		return err
	}
	paths, resp, err := d.Subscriptions.List(ctx, call(it, ""), it.CustomerID, it.SubscriptionID)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpSubscriptionUpgradeList, err)
	}
	chosen, no := chooseUpgrade(paths, it.TargetID, it.SubscriptionID)
	if it.Options.UpgradeType != "" {
		t, ok := partnercenter.ParseUpgradeType(it.Options.UpgradeType)
		if !ok {
			return failItem(ctx, d, it, fmt.Errorf("upgrade_type %q: not an upgrade type", it.Options.UpgradeType))
		}
		chosen.UpgradeType = t
	}
	if err := d.Store.ChooseTarget(ctx, it.ID, chosen.TargetOffer.ID, chosen.UpgradeType.String()); err != nil {
		return err
	}
	if no != nil {
		return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: no.status,
			Reason: "no upgrade target", ErrorCode: no.code, ErrorMessage: no.message})
	}
	if it.DryRun {
		return settle(ctx, d, it, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusEligible,
			Reason: "dry run: would upgrade to " + chosen.TargetOffer.ID})
	}

	if err := gated(ctx, d, it, partnercenter.OpSubscriptionUpgradePerform, ratelimit.Work); err != nil {
		return err
	}
	if err := d.Store.MarkCreateSent(ctx, it.ID); err != nil {
		return err
	}
	res, resp, err := d.Subscriptions.Perform(ctx, call(it, createRequestID(it)), it.CustomerID, it.SubscriptionID, chosen)
	if rerr := record(ctx, d, it, resp, err); rerr != nil {
		return rerr
	}
	if err != nil && definiteAnswer(resp) {
		if aerr := d.Store.AdvanceCreateRequest(ctx, it.ID); aerr != nil {
			return aerr
		}
	}
	if err != nil {
		if it.CreateUnknown && partnercenter.ErrorCode(err) == "800012" {
			err = fmt.Errorf("%w (an earlier upgrade request for this subscription got no answer: check in Partner Center whether it was upgraded)", err)
		}
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpSubscriptionUpgradePerform, err)
	}
	return recordUpgradeResult(ctx, d, it, chosen, res)
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
	begin := store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress,
		Reason: "performed upgrade to " + chosen.TargetOffer.ID, Worker: d.Worker}
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
	err := d.Store.InTx(ctx, func(_ pgx.Tx, s *store.Store) error {
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
		if err := s.ReplaceDetails(ctx, it.ID, it.Generation, details); err != nil {
			return err
		}
		return s.TransitionItem(ctx, it.ID, end)
	})
	if isStale(err) {
		return nil
	}
	if err == nil {
		it.Status = upgrade.StatusInProgress
		settled(ctx, d, it, end)
		if end.Attention {
			observeAttention(d, it, end.ErrorCode)
		}
	}
	return err
}
