package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// FamilyToken is the endpoint family of the OAuth 2.0 token endpoint. The
// other families are the operations (upgrade.Operation): the endpoints a
// job of an item calls.
const FamilyToken = "token"

// families are the endpoint families a job of operation op depends on: its
// own and the token endpoint's.
func families(op upgrade.Operation) []string {
	return []string{string(op), FamilyToken}
}

// transient handles a failure that says nothing about the item (see
// partnercenter.IsTransient): the item keeps its status and the job snoozes,
// using no attempt, however long the failure lasts. A throttled token
// endpoint holds every job of every replica for its Retry-After; otherwise
// the failure extends its family's streak, which past Outage.AfterFailures
// places an outage hold (see claim), and the job waits with capped
// exponential backoff meanwhile.
func transient(ctx context.Context, d *Deps, it store.Item, op string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	family := string(it.Operation)
	if partnercenter.IsTokenFailure(cause) {
		family = FamilyToken
	}
	if wait, ok := partnercenter.TokenRetryAfter(cause); ok {
		reason := "token: the token endpoint asked every caller to wait: " + cause.Error()
		placed, err := d.Store.HoldOutageUntil(ctx, FamilyToken, reason, time.Now().Add(wait))
		if err != nil {
			return err
		}
		if placed {
			d.Logger.WarnContext(ctx, "token endpoint throttled: every job waits for its Retry-After",
				slog.Duration("retry_after", wait), slog.String("error", cause.Error()))
		}
		return river.JobSnooze(wait + jitter(time.Second))
	}
	streak, err := d.Store.RecordTransient(ctx, family, cause.Error(), d.Outage)
	if err != nil {
		return err
	}
	if streak.Placed {
		d.Logger.ErrorContext(ctx, "ALERT: Partner Center unavailable: "+family+" work waits under an outage hold; one probe call at a time, work resumes by itself on the first answer",
			slog.String("hold", streak.Hold.Name), slog.Int("failures", streak.Failures), slog.String("operation", op),
			slog.Time("next_probe", streak.Hold.Until), slog.String("error", cause.Error()))
	}
	if streak.Held {
		return river.JobSnooze(max(time.Until(streak.Hold.Until), 0) + jitter(2*time.Second))
	}
	return river.JobSnooze(d.Retry.Backoff(streak.Failures))
}

// answeredFamilies are the families a Partner Center exchange showed
// answering, whose transient streaks end and outage holds lift when it is
// recorded: a call Partner Center answered (anything but a transient
// failure) shows both its family and the token endpoint answering; a token
// endpoint that refused for good shows only itself.
func answeredFamilies(it store.Item, resp *partnercenter.Response, callErr error) []string {
	switch {
	case resp.Status() != 0 && !partnercenter.IsTransient(callErr):
		return families(it.Operation)
	case partnercenter.IsTokenFailure(callErr) && !partnercenter.IsTransient(callErr):
		return []string{FamilyToken}
	}
	return nil
}

// liftedHolds logs the outage holds an answer released.
func liftedHolds(ctx context.Context, d *Deps, released []store.Hold) {
	for _, h := range released {
		d.Logger.InfoContext(ctx, "Partner Center answers again: outage hold lifted, work resumes",
			slog.String("hold", h.Name), slog.Time("since", h.Since), slog.Int("probes", h.Probes),
			slog.Duration("lasted", time.Since(h.Since).Round(time.Second)))
	}
}
