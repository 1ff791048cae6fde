package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// History is everything that happened to a batch's items for one customer
// (and subscription): what `orchestrator history --json` prints and the
// history endpoint of the API answers. Its JSON form is a contract.
type History struct {
	Batch     string `json:"batch"`
	Operation string `json:"operation"`
	// Items are keyed by customer id, or by "customer_id/subscription_id"
	// for subscription upgrades and transitions.
	Items map[string]ItemHistory `json:"items"`
	// keys are the Items' keys in file order.
	keys []string
}

// ItemHistory is one item's history: who it is, where it stands, and each
// attempt (generation) of its work.
type ItemHistory struct {
	CustomerID     string    `json:"customer_id"`
	SubscriptionID string    `json:"subscription_id,omitempty"`
	ProductFamily  string    `json:"product_family,omitempty"`
	LineNumber     int       `json:"line_number"`
	Status         string    `json:"status"`
	ErrorCode      string    `json:"error_code"`
	ErrorMessage   string    `json:"error_message"`
	Generation     int       `json:"generation"`
	Attempts       []Attempt `json:"attempts"`
}

// Attempt is one generation of an item's work: its status changes, its
// Partner Center calls, and what Partner Center reported (the object that
// carried it, its line items, events and license rows).
type Attempt struct {
	Generation    int            `json:"generation"`
	UpgradeID     string         `json:"upgrade_id,omitempty"`
	UpgradeStatus string         `json:"upgrade_status,omitempty"`
	PollCount     int            `json:"poll_count,omitempty"`
	StatusChanges []StatusChange `json:"status_changes"`
	Calls         []CallRecord   `json:"calls"`
	LineItems     []LineItem     `json:"line_items"`
	Details       []DetailRow    `json:"details"`
}

// StatusChange is one status change of an item.
type StatusChange struct {
	At           time.Time `json:"at"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	Reason       string    `json:"reason"`
	ErrorCode    string    `json:"error_code"`
	ErrorMessage string    `json:"error_message"`
	Worker       string    `json:"worker"`
}

// CallRecord is one Partner Center call about an item, as recorded.
type CallRecord struct {
	At        time.Time `json:"at"`
	Operation string    `json:"operation"`
	// HTTPStatus is 0 when no answer arrived.
	HTTPStatus    int    `json:"http_status"`
	RequestID     string `json:"ms_request_id"`
	CorrelationID string `json:"ms_correlation_id"`
	// CV is the MS-CV Partner Center returned; CVSent the one sent.
	CV              string  `json:"ms_cv"`
	CVSent          string  `json:"ms_cv_sent"`
	ServerRequestID string  `json:"server_request_id"`
	DurationSeconds float64 `json:"duration_seconds"`
	ErrorCode       string  `json:"error_code"`
	ErrorMessage    string  `json:"error_message"`
	Worker          string  `json:"worker"`
}

// LineItem is one line item of a product upgrade.
type LineItem struct {
	SourceProductID   string     `json:"source_product_id"`
	SourceProductName string     `json:"source_product_name"`
	TargetProductID   string     `json:"target_product_id"`
	TargetProductName string     `json:"target_product_name"`
	Status            string     `json:"status"`
	UpgradedDate      *time.Time `json:"upgraded_date"`
	ErrorCode         string     `json:"error_code"`
	ErrorMessage      string     `json:"error_message"`
}

// DetailRow is one upgrade error or license row of a subscription upgrade,
// or one event of a transition.
type DetailRow struct {
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	Status       string     `json:"status"`
	ErrorCode    string     `json:"error_code"`
	ErrorMessage string     `json:"error_message"`
	OccurredAt   *time.Time `json:"occurred_at"`
	// UserName and Email name the user of a license fault; Source is the
	// component that reported it; AdditionalDetails is an upgrade error's
	// additionalDetails.
	UserName          string `json:"user_name,omitempty"`
	Email             string `json:"email,omitempty"`
	Source            string `json:"source,omitempty"`
	AdditionalDetails string `json:"additional_details,omitempty"`
}

// LoadHistory reads the history of batch b's items for customerID (and
// subscriptionID, when not empty); both must be canonical GUIDs (see
// upgrade.ParseGUID). A customer without items in the batch is an error
// wrapping store.ErrNotFound.
func LoadHistory(ctx context.Context, st *store.Store, b store.Batch, customerID, subscriptionID string) (History, error) {
	items, err := st.HistoryItems(ctx, b.ID, customerID, subscriptionID)
	if err != nil {
		return History{}, err
	}
	if len(items) == 0 {
		what := "customer " + customerID
		if subscriptionID != "" {
			what += " and subscription " + subscriptionID
		}
		return History{}, fmt.Errorf("batch %q has no item for %s: %w", b.Name, what, store.ErrNotFound)
	}
	h := History{Batch: b.Name, Operation: string(b.Operation), Items: make(map[string]ItemHistory, len(items))}
	for _, it := range items {
		ih, err := loadItemHistory(ctx, st, it)
		if err != nil {
			return History{}, err
		}
		key := it.CustomerID
		if it.SubscriptionID != "" {
			key += "/" + it.SubscriptionID
		}
		h.Items[key] = ih
		h.keys = append(h.keys, key)
	}
	return h, nil
}

func loadItemHistory(ctx context.Context, st *store.Store, it store.HistoryItem) (ItemHistory, error) {
	entries, err := st.ItemHistory(ctx, it.ID)
	if err != nil {
		return ItemHistory{}, err
	}
	results, err := st.ItemResults(ctx, it.ID)
	if err != nil {
		return ItemHistory{}, err
	}
	ih := ItemHistory{
		CustomerID: it.CustomerID, SubscriptionID: it.SubscriptionID, ProductFamily: it.ProductFamily,
		LineNumber: it.LineNumber, Status: it.Status, ErrorCode: it.ErrorCode, ErrorMessage: it.ErrorMessage,
		Generation: it.Generation,
	}
	// Every generation up to the current one is an attempt, even one that
	// left no trace (cancelled before it started, say).
	last := it.Generation
	for _, e := range entries {
		last = max(last, e.Generation)
	}
	for _, r := range results {
		last = max(last, r.Generation)
	}
	ih.Attempts = make([]Attempt, last+1)
	for g := range ih.Attempts {
		ih.Attempts[g] = Attempt{Generation: g, StatusChanges: []StatusChange{}, Calls: []CallRecord{}, LineItems: []LineItem{}, Details: []DetailRow{}}
	}
	for _, e := range entries {
		a := &ih.Attempts[max(e.Generation, 0)]
		if e.IsCall() {
			a.Calls = append(a.Calls, CallRecord{
				At: e.At, Operation: e.Operation, HTTPStatus: e.HTTPStatus, RequestID: e.RequestID, CorrelationID: e.CorrelationID,
				CV: e.CV, CVSent: e.RequestCV, ServerRequestID: e.ServerRequestID, DurationSeconds: e.Seconds,
				ErrorCode: e.ErrorCode, ErrorMessage: e.ErrorMessage, Worker: e.Worker,
			})
			continue
		}
		a.StatusChanges = append(a.StatusChanges, StatusChange{
			At: e.At, From: e.From, To: e.To, Reason: e.Reason, ErrorCode: e.ErrorCode, ErrorMessage: e.ErrorMessage, Worker: e.Worker,
		})
	}
	for _, r := range results {
		a := &ih.Attempts[max(r.Generation, 0)]
		a.UpgradeID, a.UpgradeStatus, a.PollCount = r.UpgradeID, r.Status, r.PollCount
		for _, l := range r.LineItems {
			a.LineItems = append(a.LineItems, LineItem{
				SourceProductID: l.SourceProductID, SourceProductName: l.SourceProductName,
				TargetProductID: l.TargetProductID, TargetProductName: l.TargetProductName,
				Status: l.Status, UpgradedDate: l.UpgradedDate, ErrorCode: l.ErrorCode, ErrorMessage: l.ErrorMessage,
			})
		}
		for _, d := range r.Details {
			a.Details = append(a.Details, DetailRow{
				Kind: d.Kind, Name: d.Name, Status: d.Status, ErrorCode: d.Code, ErrorMessage: d.Message, OccurredAt: d.OccurredAt,
				UserName: d.UserName, Email: d.Email, Source: d.Source, AdditionalDetails: d.AdditionalDetails,
			})
		}
	}
	return ih, nil
}

// Keys returns the keys of h.Items in file order.
func (h History) Keys() []string { return h.keys }

// WriteHistoryText writes h for people: per item, per attempt, a timeline
// of status changes and calls, then the line items, events and license
// rows Partner Center reported.
func WriteHistoryText(w io.Writer, h History) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, key := range h.keys {
		it := h.Items[key]
		if i > 0 {
			fmt.Fprintln(tw)
		}
		who := "customer " + it.CustomerID
		if it.SubscriptionID != "" {
			who += " subscription " + it.SubscriptionID
		}
		fmt.Fprintf(tw, "%s (batch %s, line %d): %s%s\n", who, oneLine(h.Batch), it.LineNumber, it.Status, errorSuffix(it.ErrorCode, it.ErrorMessage))
		for _, a := range it.Attempts {
			fmt.Fprintf(tw, "\nattempt %d%s\n", a.Generation, attemptSuffix(a))
			fmt.Fprintln(tw, "TIME\tWHAT\tDETAIL\tWORKER")
			for _, e := range timeline(a) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.at.UTC().Format(time.RFC3339Nano), e.what, oneLine(e.detail), e.worker)
			}
			if len(a.LineItems) > 0 {
				fmt.Fprintln(tw, "line items:")
				for n, l := range a.LineItems {
					fmt.Fprintf(tw, "  %d. %s (%s) -> %s (%s): %s", n+1, l.SourceProductName, l.SourceProductID, l.TargetProductName, l.TargetProductID, l.Status)
					if l.UpgradedDate != nil {
						fmt.Fprintf(tw, ", upgraded %s", l.UpgradedDate.UTC().Format(time.RFC3339))
					}
					fmt.Fprintln(tw, errorSuffix(l.ErrorCode, l.ErrorMessage))
				}
			}
			if len(a.Details) > 0 {
				fmt.Fprintln(tw, "details:")
				for n, d := range a.Details {
					fmt.Fprintf(tw, "  %d. %s", n+1, d.Kind)
					for _, s := range []string{d.Name, d.UserName, d.Email, d.Status} {
						if s != "" {
							fmt.Fprintf(tw, " %s", s)
						}
					}
					if d.OccurredAt != nil {
						fmt.Fprintf(tw, " at %s", d.OccurredAt.UTC().Format(time.RFC3339))
					}
					fmt.Fprintln(tw, errorSuffix(d.ErrorCode, d.ErrorMessage))
				}
			}
		}
	}
	return tw.Flush()
}

type timelineEntry struct {
	at                   time.Time
	what, detail, worker string
}

// timeline merges an attempt's status changes and calls in time order.
func timeline(a Attempt) []timelineEntry {
	out := make([]timelineEntry, 0, len(a.StatusChanges)+len(a.Calls))
	i, j := 0, 0
	for i < len(a.StatusChanges) || j < len(a.Calls) {
		if j == len(a.Calls) || (i < len(a.StatusChanges) && !a.Calls[j].At.Before(a.StatusChanges[i].At)) {
			s := a.StatusChanges[i]
			detail := fmt.Sprintf("%s -> %s", s.From, s.To)
			if s.Reason != "" {
				detail += ": " + s.Reason
			}
			out = append(out, timelineEntry{s.At, "status", detail + errorSuffix(s.ErrorCode, s.ErrorMessage), s.Worker})
			i++
			continue
		}
		c := a.Calls[j]
		answer := fmt.Sprintf("http %d", c.HTTPStatus)
		if c.HTTPStatus == 0 {
			answer = "no answer"
		}
		detail := fmt.Sprintf("%s %s %.3fs ms-requestid %s ms-correlationid %s", c.Operation, answer, c.DurationSeconds, c.RequestID, c.CorrelationID)
		if c.CV != "" {
			detail += " ms-cv " + c.CV
		} else if c.CVSent != "" {
			detail += " ms-cv (sent) " + c.CVSent
		}
		if c.ServerRequestID != "" {
			detail += " server-request-id " + c.ServerRequestID
		}
		out = append(out, timelineEntry{c.At, "call", detail + errorSuffix(c.ErrorCode, c.ErrorMessage), c.Worker})
		j++
	}
	return out
}

func attemptSuffix(a Attempt) string {
	var parts []string
	if a.UpgradeID != "" {
		parts = append(parts, "partner center object "+a.UpgradeID)
	}
	if a.UpgradeStatus != "" {
		parts = append(parts, "status "+a.UpgradeStatus)
	}
	if a.PollCount > 0 {
		parts = append(parts, fmt.Sprintf("%d poll(s)", a.PollCount))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}

// errorSuffix is "; error CODE: MESSAGE" (either part may be missing), or
// "" without either.
func errorSuffix(code, message string) string {
	code, message = oneLine(code), oneLine(message)
	switch {
	case code == "" && message == "":
		return ""
	case message == "":
		return "; error " + code
	case code == "":
		return "; error: " + message
	}
	return "; error " + code + ": " + message
}

// oneLine keeps a text on its line and out of the table's columns.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\t", " ")), " ")
}
