package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// Error codes of our own for items that need attention: Partner Center
// completed their work only in part, or reports a status the service does
// not know. Partner Center's own codes stay on the line item and detail
// rows; these explain the item as a whole. They are a contract shown in
// reports and status.
const (
	// CodeLineItemsFailed: a product upgrade completed overall while some
	// of its line items did not (and it carried no top-level errorDetails).
	CodeLineItemsFailed = "line_items_failed"
	// CodeLicenseErrors: a subscription upgrade succeeded with user license
	// faults.
	CodeLicenseErrors = "license_errors"
	// CodeEventsFailed: a transition converted the subscription but a later
	// event (such as the license reassignment) failed.
	CodeEventsFailed = "events_failed"
	// CodeUnknownStatus: Partner Center kept reporting a status value the
	// service does not know; the item is flagged stuck, not settled.
	CodeUnknownStatus = "unknown_status"
)

// unknownStatus handles a poll that found a status value the service does
// not know (recorded verbatim as status): the item is polled again until
// UnknownStatusPolls polls found one, then flagged for attention and stuck.
// It stays in_progress: nothing says the work is done, or failed.
func unknownStatus(ctx context.Context, d *Deps, it store.Item, status string) error {
	n, err := d.Store.RecordUnknownStatus(ctx, it.ID, it.Generation, status)
	if err != nil {
		return err
	}
	if d.UnknownStatusPolls <= 0 || n < d.UnknownStatusPolls {
		return nextPoll(ctx, d, it)
	}
	msg := fmt.Sprintf("Partner Center reported the status %q, which the service does not know, in %d polls; "+
		"the work is not known to be done: check it in Partner Center (resuming the batch polls it again)", status, n)
	if err := d.Store.FlagAttention(ctx, it.ID, d.Worker, CodeUnknownStatus, msg); err != nil {
		return err
	}
	d.Logger.WarnContext(ctx, "item flagged for attention: unknown status; no longer polled",
		slog.String("batch", it.BatchName), slog.Int64("item", it.ID), slog.String("upgrade_id", it.UpgradeID),
		slog.String("status", status), slog.Int("polls", n))
	observeAttention(d, it, CodeUnknownStatus)
	return nil
}

// observeAttention tells the metrics that an item was flagged for attention.
func observeAttention(d *Deps, it store.Item, code string) {
	if d.ObserveAttention != nil {
		d.ObserveAttention(it.Operation, code)
	}
}

// errorText joins the parts of an error Partner Center returned (a
// description, its additional details, a fault's data, the reporting
// component) into one message, leaving out empty parts.
func errorText(description, additional, source string) string {
	parts := []string{}
	if s := strings.TrimSpace(description); s != "" {
		parts = append(parts, s)
	}
	if s := strings.TrimSpace(additional); s != "" {
		parts = append(parts, "additional details: "+s)
	}
	if s := strings.TrimSpace(source); s != "" {
		parts = append(parts, "source: "+s)
	}
	return strings.Join(parts, "; ")
}

// upgradeErrorDetails returns one detail per upgrade error, each with its
// code exactly as Partner Center sent it.
func upgradeErrorDetails(errs []partnercenter.UpgradeError) []store.Detail {
	out := make([]store.Detail, 0, len(errs))
	for _, e := range errs {
		out = append(out, store.Detail{Kind: store.DetailUpgradeError, Code: e.CodeText(),
			Message: errorText(e.Description, e.AdditionalDetails, ""), AdditionalDetails: e.AdditionalDetails})
	}
	return out
}

// licenseErrorDetails returns one detail per fault of each user's license
// error (one without error for a user listed without faults), with the
// user's object id, name and e-mail, and the fault's source and data.
func licenseErrorDetails(errs []partnercenter.UserLicenseError) []store.Detail {
	var out []store.Detail
	for _, le := range errs {
		faults := le.Errors
		if len(faults) == 0 {
			faults = []partnercenter.ServiceFault{{}}
		}
		for _, f := range faults {
			data := strings.Join(f.Data, "; ")
			out = append(out, store.Detail{Kind: store.DetailLicenseError, Name: le.UserObjectID,
				UserName: le.Name, Email: le.Email, Code: f.Code,
				Message: errorText(f.Description, data, f.Source), Source: f.Source, AdditionalDetails: data})
		}
	}
	return out
}

// eventDetails returns the details of a transition's events: one per error
// of each event, or one for an event without errors.
func eventDetails(events []partnercenter.TransitionEvent) []store.Detail {
	out := make([]store.Detail, 0, len(events))
	for _, e := range events {
		det := store.Detail{Kind: store.DetailEvent, Name: e.Name, Status: e.Status, OccurredAt: e.Timestamp}
		if len(e.Errors) == 0 {
			out = append(out, det)
			continue
		}
		for _, te := range e.Errors {
			det.Code, det.Message = te.CodeText(), strings.TrimSpace(te.Description)
			out = append(out, det)
		}
	}
	return out
}

// failedEvents describes the transition's events whose latest status
// failed ("LicenseReassignment Failed: 12 License transfer failed ..."),
// and returns the code of the first error of the first of them.
func failedEvents(tr *partnercenter.Transition) (code, text string) {
	latest := map[string]partnercenter.TransitionEvent{}
	var order []string
	for _, e := range tr.Events {
		k := strings.ToLower(strings.TrimSpace(e.Name))
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = e
	}
	var parts []string
	for _, k := range order {
		e := latest[k]
		if !e.Failed() {
			continue
		}
		var errs []string
		for _, te := range e.Errors {
			if code == "" {
				code = te.CodeText()
			}
			errs = append(errs, strings.TrimSpace(te.CodeText()+" "+te.Description))
		}
		part := strings.TrimSpace(e.Name + " " + e.Status)
		if len(errs) > 0 {
			part += ": " + strings.Join(errs, "; ")
		}
		parts = append(parts, part)
	}
	return code, strings.Join(parts, " | ")
}
