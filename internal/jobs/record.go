package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// recordAttempts is how many times a call's api_calls row is written before
// the job gives up, and recordBackoff the wait before the second attempt
// (doubled before each later one).
const (
	recordAttempts = 4
	recordBackoff  = 25 * time.Millisecond
)

// maxRecordedMessage bounds the error message kept with a call.
const maxRecordedMessage = 2000

// record writes one api_calls row and one log line for a Partner Center
// request. Every call that was sent is on the record: a failed write is
// retried a few times with a short backoff, and when it still fails the
// error is returned. The caller must then return it without acting on
// Partner Center's answer (no status change, no new create MS-RequestId),
// so that the job fails, is retried, and repeats the same request, whose
// repeat Partner Center recognises by its MS-RequestId. A recorded answer
// also ends its endpoint family's streak of transient failures and lifts its
// outage hold (see answeredFamilies).
func record(ctx context.Context, d *Deps, it store.Item, resp *partnercenter.Response, callErr error) error {
	if resp == nil {
		return nil
	}
	c := store.APICall{
		BatchID:         it.BatchID,
		ItemID:          it.ID,
		Operation:       resp.Operation,
		HTTPStatus:      resp.Status(),
		RequestID:       resp.RequestID,
		CorrelationID:   resp.CorrelationID,
		ServerRequestID: resp.ServerRequestID,
		CV:              resp.CV,
		RequestCV:       resp.RequestCV,
		Duration:        resp.Duration,
		ErrorCode:       partnercenter.ErrorCode(callErr),
		ErrorMessage:    callMessage(callErr),
		Generation:      it.Generation,
		Worker:          d.Worker,
	}
	attrs := []any{
		slog.String("batch", it.BatchName), slog.Int64("item", it.ID), slog.String("operation", c.Operation),
		slog.Int("http_status", c.HTTPStatus), slog.String("ms_request_id", c.RequestID),
		slog.String("ms_correlation_id", c.CorrelationID), slog.String("ms_cv", c.CV), slog.Duration("duration", c.Duration),
	}
	if callErr != nil {
		d.Logger.WarnContext(ctx, "partner center call failed", append(attrs, slog.String("error_code", c.ErrorCode), slog.String("error", callErr.Error()))...)
	} else {
		d.Logger.DebugContext(ctx, "partner center call", attrs...)
	}

	// The call happened whether or not the job's context is still alive.
	wctx := context.WithoutCancel(ctx)
	// An answer is recorded in the same statement that ends its families'
	// transient streaks and lifts their outage holds.
	fams := answeredFamilies(it, resp, callErr)
	var err error
	wait := recordBackoff
	for attempt := 1; ; attempt++ {
		if len(fams) == 0 {
			err = d.Store.RecordAPICall(wctx, c)
		} else {
			var released []store.Hold
			released, err = d.Store.RecordAnsweredCall(wctx, c, fams)
			liftedHolds(ctx, d, released)
		}
		if err == nil {
			return nil
		}
		if attempt == recordAttempts {
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	if d.ObserveRecordFailure != nil {
		d.ObserveRecordFailure(c.Operation)
	}
	d.Logger.ErrorContext(ctx, "a partner center call could not be recorded: the job fails and repeats it with the same MS-RequestId",
		append(attrs, slog.Int("attempts", recordAttempts), slog.String("error", err.Error()))...)
	return fmt.Errorf("recording %s call %s of item %d after %d attempts: %w", c.Operation, c.RequestID, it.ID, recordAttempts, err)
}

// callMessage is what the record keeps of a call's error: Partner Center's
// description when it gave one, else the error's text (the client keeps
// secrets out of both).
func callMessage(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	var pcErr *partnercenter.Error
	if errors.As(err, &pcErr) && pcErr.Description != "" {
		msg = pcErr.Description
	}
	if r := []rune(msg); len(r) > maxRecordedMessage {
		msg = string(r[:maxRecordedMessage]) + "…"
	}
	return msg
}
