package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// outcome maps an error from a Partner Center call to what River does with
// the job, and fails the item when the error is final. It is the single
// error policy of all jobs:
//
//   - 429: snooze for Retry-After, and pause the operation's rate bucket
//     for that long for every replica (see ratelimit.Governor); no attempt
//     is used;
//   - the job's context ended (shutdown): snooze briefly, no attempt used;
//   - transient failures (5xx, 408, transport errors, timeouts, bodies cut
//     short, a token endpoint that throttles, fails or does not answer) say
//     nothing about the item: it keeps its status and the job snoozes with
//     backoff, under an outage hold once the failures form a streak (see
//     transient); no attempt is used, however long it lasts;
//   - authentication failures that retrying cannot fix (401, 403 for
//     missing rights, a refused refresh token): place a service-wide hold
//     for AuthPause, which pauses every job in every replica, log an alert,
//     and snooze; the item is untouched and no attempt is used;
//   - terminal 4xx: item failed with Partner Center's code and description;
//   - anything else (an answer the client cannot use, such as an accepted
//     create without a Location): retry with backoff; on the last attempt
//     the item is failed with the last error code. Attempts bound only
//     such failures.
func outcome(ctx context.Context, d *Deps, job *rivertype.JobRow, it store.Item, op string, err error) error {
	if wait, ok := partnercenter.IsRateLimited(err); ok {
		if perr := d.Governor.Throttled(context.WithoutCancel(ctx), op, it.CustomerID, wait); perr != nil {
			return perr
		}
		return river.JobSnooze(wait + jitter(time.Second))
	}
	if ctx.Err() != nil {
		return river.JobSnooze(time.Second)
	}
	if partnercenter.IsTransient(err) {
		return transient(ctx, d, it, op, err)
	}
	if partnercenter.IsAuth(err) && !partnercenter.IsRetryable(err) {
		until := time.Now().Add(d.AuthPause)
		reason := fmt.Sprintf("partner center refused our credentials (%s) during %s: %s",
			partnercenter.ErrorCode(err), op, err.Error())
		if herr := d.Store.PlaceHold(context.WithoutCancel(ctx), store.HoldAuth, reason, until); herr != nil {
			return herr
		}
		d.Logger.ErrorContext(ctx, "ALERT: all Partner Center work paused: credentials refused; fix the credentials, work resumes by itself",
			slog.String("hold", store.HoldAuth), slog.Time("until", until), slog.String("operation", op),
			slog.Int64("item", it.ID), slog.String("batch", it.BatchName), slog.String("error", err.Error()))
		return river.JobSnooze(d.AuthPause + jitter(2*time.Second))
	}
	if partnercenter.IsTerminal(err) {
		return failItem(ctx, d, it, err)
	}
	if job.Attempt >= job.MaxAttempts {
		if ferr := failItem(ctx, d, it, err); ferr != nil {
			return ferr
		}
		return river.JobCancel(fmt.Errorf("giving up after %d attempts: %w", job.Attempt, err))
	}
	return err
}

// gated fences the call (see fence), then takes a token from op's rate
// bucket for a call about item it. With
// none left (or the bucket paused by a 429) it returns a snooze until there
// will be one: the job gives its worker slot back and uses no attempt.
func gated(ctx context.Context, d *Deps, it store.Item, op string, class ratelimit.Class) error {
	if err := fence(ctx, d, it); err != nil {
		return err
	}
	wait, err := d.Governor.Take(ctx, op, it.CustomerID, class)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait + jitter(wait/10+10*time.Millisecond))
	}
	return nil
}

// failItem moves an open item to failed with the error's code and text.
// Unless Partner Center answered with a terminal error about the item, the
// failure is the service giving up (store.Transition.GaveUp), which the
// automatic halt does not count.
func failItem(ctx context.Context, d *Deps, it store.Item, cause error) error {
	msg := cause.Error()
	var pcErr *partnercenter.Error
	if errors.As(cause, &pcErr) && pcErr.Description != "" {
		msg = pcErr.Description
	}
	return settle(ctx, d, it, store.Transition{
		From:         it.Status,
		To:           upgrade.StatusFailed,
		Reason:       "partner center error",
		ErrorCode:    partnercenter.ErrorCode(cause),
		ErrorMessage: msg,
		GaveUp:       !partnerCenterDecided(cause),
	})
}

// partnerCenterDecided reports whether a failure is Partner Center's own
// answer about the item: a terminal 4xx it sent. Transient errors, the
// client's refusal to send a request and errors of the service's own are
// not.
func partnerCenterDecided(err error) bool {
	var pcErr *partnercenter.Error
	return partnercenter.IsTerminal(err) && errors.As(err, &pcErr)
}

// settle applies a status change to an item that needs no other write, and
// does what follows any change: metrics, and the batch's failure-rate check
// after a failure. A change someone else already made is not an error. The
// change is fenced by the job's lease (it.Lease).
func settle(ctx context.Context, d *Deps, it store.Item, t store.Transition) error {
	t.Worker, t.Lease = d.Worker, it.Lease
	err := d.Store.TransitionItem(ctx, it.ID, t)
	if isStale(err) {
		return nil
	}
	if errors.Is(err, store.ErrLeaseLost) {
		return leaseLost(ctx, d, it, err)
	}
	if err != nil {
		return err
	}
	settled(ctx, d, it, t)
	return nil
}

// settled runs after an item status change committed.
func settled(ctx context.Context, d *Deps, it store.Item, t store.Transition) {
	if d.Observe != nil {
		d.Observe(it.Operation, t.To, t.ErrorCode)
	}
	if t.To != upgrade.StatusFailed || t.GaveUp ||
		(it.BatchStatus != upgrade.BatchRunning && it.BatchStatus != upgrade.BatchCanary) {
		return // only failures Partner Center decided halt, and only running and canary batches
	}
	reason, err := d.Store.HaltIfFailing(context.WithoutCancel(ctx), it.BatchID, d.Halt)
	if err != nil {
		d.Logger.ErrorContext(ctx, "checking the batch's failure rate", slog.String("batch", it.BatchName), slog.String("error", err.Error()))
		return
	}
	if reason != "" {
		d.Logger.ErrorContext(ctx, "ALERT: batch halted", slog.String("batch", it.BatchName), slog.String("reason", reason))
	}
}

// call returns the Call for a request about item it: the batch's
// correlation id, and requestID when the request must be repeatable.
func call(it store.Item, requestID string) partnercenter.Call {
	return partnercenter.Call{RequestID: requestID, CorrelationID: it.CorrelationID}
}
