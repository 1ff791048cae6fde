package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// HistoryEntry is one thing that happened to an item: a status change or a
// Partner Center call.
type HistoryEntry struct {
	At         time.Time `json:"at"`
	Generation int       `json:"generation"`
	Worker     string    `json:"worker"`
	// Event entries.
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Call entries.
	Operation       string  `json:"operation,omitempty"`
	HTTPStatus      int     `json:"http_status,omitempty"`
	RequestID       string  `json:"ms_request_id,omitempty"`
	CorrelationID   string  `json:"ms_correlation_id,omitempty"`
	CV              string  `json:"ms_cv,omitempty"`
	RequestCV       string  `json:"ms_cv_sent,omitempty"`
	ServerRequestID string  `json:"server_request_id,omitempty"`
	Seconds         float64 `json:"duration_seconds,omitempty"`
	// ErrorCode and ErrorMessage of a failed call, or of the item when the
	// change failed it or found it ineligible.
	ErrorCode    string `json:"error_code,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

// IsCall reports whether the entry is a Partner Center call (as opposed to
// a status change).
func (h HistoryEntry) IsCall() bool { return h.Operation != "" }

// HistoryItem is an item as its history names it: by customer (and
// subscription), with where it stands now.
type HistoryItem struct {
	ID             int64
	LineNumber     int
	CustomerID     string
	SubscriptionID string // empty for product upgrades
	ProductFamily  string
	Status         string
	Generation     int
	ErrorCode      string
	ErrorMessage   string
}

// AttemptResult is what Partner Center reported for one generation of an
// item's work: the object carrying it, its last status and its results.
type AttemptResult struct {
	Generation int
	UpgradeID  string
	Status     string
	PollCount  int
	AdoptedAt  time.Time
	FinishedAt *time.Time
	LineItems  []LineItem
	Details    []Detail
}

// FindItems returns the ids of a batch's items for a customer (and
// subscription, when not empty), in file order.
func (s *Store) FindItems(ctx context.Context, batchID int64, customerID, subscriptionID string) ([]int64, error) {
	items, err := s.HistoryItems(ctx, batchID, customerID, subscriptionID)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, nil
}

// HistoryItems returns a batch's items for a customer (and subscription,
// when not empty), in file order. Both ids must be GUIDs.
func (s *Store) HistoryItems(ctx context.Context, batchID int64, customerID, subscriptionID string) ([]HistoryItem, error) {
	rows, err := s.db.Query(ctx, `
		select id, line_number, customer_id::text, coalesce(subscription_id::text, ''), product_family,
		       status, generation, error_code, error_message
		from batch_items
		where batch_id = $1 and customer_id = $2::uuid
		  and ($3 = '' or subscription_id = nullif($3, '')::uuid)
		order by line_number`, batchID, customerID, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("find items of customer %s: %w", customerID, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryItem, error) {
		var it HistoryItem
		err := r.Scan(&it.ID, &it.LineNumber, &it.CustomerID, &it.SubscriptionID, &it.ProductFamily,
			&it.Status, &it.Generation, &it.ErrorCode, &it.ErrorMessage)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("find items of customer %s: %w", customerID, err)
	}
	return items, nil
}

// ItemHistory returns everything that happened to an item, oldest first:
// its status changes (item_events) and its Partner Center calls
// (api_calls), across all its generations.
func (s *Store) ItemHistory(ctx context.Context, itemID int64) ([]HistoryEntry, error) {
	rows, err := s.db.Query(ctx, `
		select created_at, 0 as kind, id, generation, worker, from_status, to_status, reason,
		       '', 0, '', '', '', '', '', 0::float8, error_code, error_message
		from item_events where item_id = $1
		union all
		select created_at, 1, id, generation, worker, '', '', '',
		       operation, http_status, request_id, correlation_id, ms_cv, request_cv, server_request_id,
		       duration_seconds, error_code, error_message
		from api_calls where item_id = $1
		order by 1, 2, 3`, itemID)
	if err != nil {
		return nil, fmt.Errorf("history of item %d: %w", itemID, err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		var kind int
		var id int64
		if err := rows.Scan(&h.At, &kind, &id, &h.Generation, &h.Worker, &h.From, &h.To, &h.Reason,
			&h.Operation, &h.HTTPStatus, &h.RequestID, &h.CorrelationID, &h.CV, &h.RequestCV, &h.ServerRequestID,
			&h.Seconds, &h.ErrorCode, &h.ErrorMessage); err != nil {
			return nil, fmt.Errorf("history of item %d: %w", itemID, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of item %d: %w", itemID, err)
	}
	return out, nil
}

// ItemResults returns what Partner Center reported for each generation of
// an item's work that reached it (an adopted object, or results such as the
// upgrade errors of a subscription upgrade), oldest generation first, with
// the line items, events and license rows of each.
func (s *Store) ItemResults(ctx context.Context, itemID int64) ([]AttemptResult, error) {
	byGen := map[int]*AttemptResult{}
	var order []int
	attempt := func(g int) *AttemptResult {
		if a, ok := byGen[g]; ok {
			return a
		}
		a := &AttemptResult{Generation: g}
		byGen[g] = a
		order = append(order, g)
		return a
	}

	rows, err := s.db.Query(ctx, `
		select generation, upgrade_id, status, poll_count, created_at, finished_at
		from upgrades where item_id = $1 order by generation`, itemID)
	if err != nil {
		return nil, fmt.Errorf("results of item %d: %w", itemID, err)
	}
	for rows.Next() {
		var g int
		var r AttemptResult
		if err := rows.Scan(&g, &r.UpgradeID, &r.Status, &r.PollCount, &r.AdoptedAt, &r.FinishedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("results of item %d: %w", itemID, err)
		}
		a := attempt(g)
		a.UpgradeID, a.Status, a.PollCount, a.AdoptedAt, a.FinishedAt = r.UpgradeID, r.Status, r.PollCount, r.AdoptedAt, r.FinishedAt
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("results of item %d: %w", itemID, err)
	}

	rows, err = s.db.Query(ctx, `
		select generation, source_product_id, source_product_name, target_product_id, target_product_name,
		       status, upgraded_date, error_code, error_message
		from line_items where item_id = $1 order by generation, position`, itemID)
	if err != nil {
		return nil, fmt.Errorf("line items of item %d: %w", itemID, err)
	}
	for rows.Next() {
		var g int
		var l LineItem
		if err := rows.Scan(&g, &l.SourceProductID, &l.SourceProductName, &l.TargetProductID, &l.TargetProductName,
			&l.Status, &l.UpgradedDate, &l.ErrorCode, &l.ErrorMessage); err != nil {
			rows.Close()
			return nil, fmt.Errorf("line items of item %d: %w", itemID, err)
		}
		a := attempt(g)
		a.LineItems = append(a.LineItems, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("line items of item %d: %w", itemID, err)
	}

	rows, err = s.db.Query(ctx, `
		select generation, kind, name, status, code, message, occurred_at, user_name, email, source, additional_details
		from item_details where item_id = $1 order by generation, position`, itemID)
	if err != nil {
		return nil, fmt.Errorf("details of item %d: %w", itemID, err)
	}
	for rows.Next() {
		var g int
		var d Detail
		if err := rows.Scan(&g, &d.Kind, &d.Name, &d.Status, &d.Code, &d.Message, &d.OccurredAt, &d.UserName, &d.Email, &d.Source, &d.AdditionalDetails); err != nil {
			rows.Close()
			return nil, fmt.Errorf("details of item %d: %w", itemID, err)
		}
		a := attempt(g)
		a.Details = append(a.Details, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("details of item %d: %w", itemID, err)
	}

	slices.Sort(order)
	out := make([]AttemptResult, 0, len(order))
	for _, g := range order {
		out = append(out, *byGen[g])
	}
	return out, nil
}
