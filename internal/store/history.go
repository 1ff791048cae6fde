package store

import (
	"context"
	"fmt"
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
	Operation  string  `json:"operation,omitempty"`
	HTTPStatus int     `json:"http_status,omitempty"`
	RequestID  string  `json:"ms_request_id,omitempty"`
	Seconds    float64 `json:"duration_seconds,omitempty"`
	// ErrorCode of a failed call, or of the item when the change failed it.
	ErrorCode string `json:"error_code,omitempty"`
}

// FindItems returns the ids of a batch's items for a customer (and
// subscription, when not empty), in file order.
func (s *Store) FindItems(ctx context.Context, batchID int64, customerID, subscriptionID string) ([]int64, error) {
	rows, err := s.db.Query(ctx, `
		select id from batch_items
		where batch_id = $1 and customer_id = $2::uuid
		  and ($3 = '' or subscription_id = nullif($3, '')::uuid)
		order by line_number`, batchID, customerID, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("find items of customer %s: %w", customerID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find items of customer %s: %w", customerID, err)
	}
	return ids, nil
}

// ItemHistory returns everything that happened to an item, oldest first:
// its status changes (item_events) and its Partner Center calls
// (api_calls), across all its generations.
func (s *Store) ItemHistory(ctx context.Context, itemID int64) ([]HistoryEntry, error) {
	rows, err := s.db.Query(ctx, `
		select created_at, generation, worker, from_status, to_status, reason, '', 0, '', 0::float8, error_code
		from item_events where item_id = $1
		union all
		select created_at, generation, worker, '', '', '', operation, http_status, request_id, duration_seconds, error_code
		from api_calls where item_id = $1
		order by 1`, itemID)
	if err != nil {
		return nil, fmt.Errorf("history of item %d: %w", itemID, err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var h HistoryEntry
		if err := rows.Scan(&h.At, &h.Generation, &h.Worker, &h.From, &h.To, &h.Reason, &h.Operation,
			&h.HTTPStatus, &h.RequestID, &h.Seconds, &h.ErrorCode); err != nil {
			return nil, fmt.Errorf("history of item %d: %w", itemID, err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
