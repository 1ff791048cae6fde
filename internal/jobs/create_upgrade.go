package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// requestIDSpace is the UUID namespace of deterministic MS-RequestIds.
const requestIDSpace = "5c0f3d2e-8a4b-4f8e-9a63-2f1d7b0c9e41"

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

// createRequestID is the MS-RequestId of an item's create call. It depends
// only on the item, its generation and its create sequence, so a job retried
// after a timeout, a 5xx, a transport error or a crash repeats the same
// request and Partner Center can recognise it; after a definite answer the
// sequence advances and the next create is a new request.
func createRequestID(it store.Item) string {
	return uuid.NewSHA1(uuid.MustParse(requestIDSpace),
		fmt.Appendf(nil, "product_upgrade_create/%d/%d/%d", it.ID, it.Generation, it.CreateRequestSeq)).String()
}

// definiteAnswer reports whether Partner Center answered a request for sure
// (any status but a 5xx or 408), as opposed to a timeout, a transport error
// or a server failure after which the outcome is unknown.
func definiteAnswer(resp *partnercenter.Response) bool {
	code := resp.Status()
	return code != 0 && code < 500 && code != http.StatusRequestTimeout
}

// Work implements river.Worker.
func (w *CreateUpgradeWorker) Work(ctx context.Context, job *river.Job[CreateUpgradeArgs]) error {
	d := w.deps
	it, err := d.Store.Item(ctx, job.Args.ItemID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if it.Status != upgrade.StatusPending {
		return nil // already settled by an earlier attempt or another worker
	}
	req := partnercenter.ProductUpgradesRequest{CustomerID: it.CustomerID, ProductFamily: it.ProductFamily}

	// Eligibility also reveals an upgrade that already exists for the
	// customer: one this job created before it crashed, or one made outside
	// the service. Such an upgrade is adopted, never created again.
	if err := gated(d, partnercenter.OpProductUpgradeEligibility); err != nil {
		return err
	}
	el, resp, err := d.Upgrades.Eligibility(ctx, partnercenter.Call{CorrelationID: it.CorrelationID}, req)
	record(ctx, d, it, resp, err)
	if err != nil {
		return outcome(ctx, d, job.JobRow, it, partnercenter.OpProductUpgradeEligibility, err)
	}
	if el.UpgradeID != "" {
		return adopt(ctx, d, it, el.UpgradeID, "adopted existing upgrade")
	}
	if !el.IsEligible {
		err := d.Store.TransitionItem(ctx, it.ID, store.Transition{
			From: upgrade.StatusPending, To: upgrade.StatusIneligible,
			Reason: "not eligible", ErrorMessage: el.Reason,
		})
		if errors.Is(err, store.ErrStaleStatus) {
			return nil
		}
		return err
	}

	if err := gated(d, partnercenter.OpProductUpgradeCreate); err != nil {
		return err
	}
	id, resp, err := d.Upgrades.Create(ctx, partnercenter.Call{RequestID: createRequestID(it), CorrelationID: it.CorrelationID}, req)
	record(ctx, d, it, resp, err)
	if err != nil && definiteAnswer(resp) {
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

// adopt records that upgrade id carries the item, moves the item to
// in_progress and queues its first status poll, atomically.
func adopt(ctx context.Context, d *Deps, it store.Item, upgradeID, reason string) error {
	err := d.Store.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		if err := st.AdoptUpgrade(ctx, it.ID, upgradeID); err != nil {
			return err
		}
		if err := st.TransitionItem(ctx, it.ID, store.Transition{
			From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: reason + " " + upgradeID,
		}); err != nil {
			return err
		}
		client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
		if err != nil {
			return err
		}
		_, err = client.InsertTx(ctx, tx, PollStatusArgs{ItemID: it.ID}, &river.InsertOpts{
			ScheduledAt: time.Now().Add(d.PollInitial),
		})
		return err
	})
	if errors.Is(err, store.ErrStaleStatus) {
		return nil
	}
	return err
}

func liveUnique() river.UniqueOpts {
	return river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		},
	}
}
