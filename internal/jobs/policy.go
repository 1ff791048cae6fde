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
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// outcome maps an error from a Partner Center call to what River does with
// the job, and fails the item when the error is final. It is the single
// error policy of all jobs:
//
//   - 429: snooze for Retry-After, and hold every job of this process back
//     from that operation until then (see Gate); no attempt is used;
//   - the job's context ended (shutdown): snooze briefly, no attempt used;
//   - authentication failures: retry with backoff, item untouched;
//   - terminal 4xx: item failed with Partner Center's code and description;
//   - 5xx, transport errors and anything unknown: retry with backoff; on the
//     last attempt the item is failed with the last error code.
func outcome(ctx context.Context, d *Deps, job *rivertype.JobRow, it store.Item, op string, err error) error {
	if wait, ok := partnercenter.IsRateLimited(err); ok {
		d.Gate.Pause(op, wait)
		return river.JobSnooze(wait)
	}
	if ctx.Err() != nil {
		return river.JobSnooze(time.Second)
	}
	if partnercenter.IsAuth(err) {
		d.Logger.ErrorContext(ctx, "partner center refused our credentials; item left untouched",
			slog.Int64("item", it.ID), slog.String("batch", it.BatchName), slog.String("error", err.Error()))
		return err
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

// gated returns a snooze when Partner Center told us to wait before calling
// op again, so the job does not call it early.
func gated(d *Deps, op string) error {
	if wait, closed := d.Gate.Wait(op); closed {
		return river.JobSnooze(wait)
	}
	return nil
}

// failItem moves an open item to failed with the error's code and text.
func failItem(ctx context.Context, d *Deps, it store.Item, cause error) error {
	msg := cause.Error()
	var pcErr *partnercenter.Error
	if errors.As(cause, &pcErr) && pcErr.Description != "" {
		msg = pcErr.Description
	}
	err := d.Store.TransitionItem(ctx, it.ID, store.Transition{
		From:         it.Status,
		To:           upgrade.StatusFailed,
		Reason:       "partner center error",
		ErrorCode:    partnercenter.ErrorCode(cause),
		ErrorMessage: msg,
	})
	if errors.Is(err, store.ErrStaleStatus) {
		return nil // someone else already settled the item
	}
	return err
}

// record writes one api_calls row and one log line for a Partner Center
// request. A failure to record is logged, not returned: the call happened
// either way and the job's outcome must follow Partner Center's answer.
func record(ctx context.Context, d *Deps, it store.Item, resp *partnercenter.Response, callErr error) {
	if resp == nil {
		return
	}
	c := store.APICall{
		BatchID:         it.BatchID,
		ItemID:          it.ID,
		Operation:       resp.Operation,
		HTTPStatus:      resp.Status(),
		RequestID:       resp.RequestID,
		CorrelationID:   resp.CorrelationID,
		ServerRequestID: resp.ServerRequestID,
		Duration:        resp.Duration,
		ErrorCode:       partnercenter.ErrorCode(callErr),
	}
	attrs := []any{
		slog.String("batch", it.BatchName), slog.Int64("item", it.ID), slog.String("operation", c.Operation),
		slog.Int("http_status", c.HTTPStatus), slog.String("ms_request_id", c.RequestID),
		slog.String("ms_correlation_id", c.CorrelationID), slog.Duration("duration", c.Duration),
	}
	if callErr != nil {
		d.Logger.WarnContext(ctx, "partner center call failed", append(attrs, slog.String("error_code", c.ErrorCode), slog.String("error", callErr.Error()))...)
	} else {
		d.Logger.DebugContext(ctx, "partner center call", attrs...)
	}
	if err := d.Store.RecordAPICall(context.WithoutCancel(ctx), c); err != nil {
		d.Logger.ErrorContext(ctx, "recording partner center call", slog.String("error", err.Error()))
	}
}
