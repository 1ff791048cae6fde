package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ErrStaleStatus is returned when an item is no longer in the status a
// transition expected: another worker got there first.
var ErrStaleStatus = errors.New("item status changed concurrently")

// Item is one batch item with what a job needs to work on it.
type Item struct {
	ID            int64
	BatchID       int64
	BatchName     string
	CorrelationID string
	LineNumber    int
	CustomerID    string
	ProductFamily string
	Status        upgrade.Status
	Generation    int
	ErrorCode     string
	ErrorMessage  string
	UpgradeID     string
	PollCount     int
	// CreateRequestSeq numbers the item's create MS-RequestId; see
	// AdvanceCreateRequest.
	CreateRequestSeq int
}

// Item returns the item with that id, or ErrNotFound.
func (s *Store) Item(ctx context.Context, id int64) (Item, error) {
	var it Item
	var upgradeID *string
	var pollCount *int
	err := s.db.QueryRow(ctx, `
		select i.id, i.batch_id, b.name, b.correlation_id::text, i.line_number, i.customer_id::text,
		       i.product_family, i.status, i.generation, i.error_code, i.error_message,
		       i.create_request_seq, u.upgrade_id, u.poll_count
		from batch_items i
		join batches b on b.id = i.batch_id
		left join upgrades u on u.item_id = i.id
		where i.id = $1`, id,
	).Scan(&it.ID, &it.BatchID, &it.BatchName, &it.CorrelationID, &it.LineNumber, &it.CustomerID,
		&it.ProductFamily, &it.Status, &it.Generation, &it.ErrorCode, &it.ErrorMessage,
		&it.CreateRequestSeq, &upgradeID, &pollCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, fmt.Errorf("item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("read item %d: %w", id, err)
	}
	if upgradeID != nil {
		it.UpgradeID = *upgradeID
	}
	if pollCount != nil {
		it.PollCount = *pollCount
	}
	return it, nil
}

// AdvanceCreateRequest moves an item's create MS-RequestId to the next
// sequence number. Call it after a create got a definite answer: the next
// create is a new request, not a repeat.
func (s *Store) AdvanceCreateRequest(ctx context.Context, id int64) error {
	if _, err := s.db.Exec(ctx, `update batch_items set create_request_seq = create_request_seq + 1 where id = $1`, id); err != nil {
		return fmt.Errorf("advance create request of item %d: %w", id, err)
	}
	return nil
}

// Transition is a status change of one item.
type Transition struct {
	From, To     upgrade.Status
	Reason       string // free text for the item's history
	ErrorCode    string // Partner Center error code, for failed and ineligible items
	ErrorMessage string // Partner Center's description or reason
}

// TransitionItem moves an item from t.From to t.To, enforcing the state
// machine of package upgrade, and records the change in item_events. It
// returns ErrStaleStatus when the item is no longer in t.From.
func (s *Store) TransitionItem(ctx context.Context, id int64, t Transition) error {
	if err := upgrade.CheckTransition(t.From, t.To); err != nil {
		return fmt.Errorf("item %d: %w", id, err)
	}
	tag, err := s.db.Exec(ctx, `
		with changed as (
		    update batch_items
		    set status = $3, error_code = $4, error_message = $5, status_changed_at = now()
		    where id = $1 and status = $2
		    returning id)
		insert into item_events (item_id, from_status, to_status, reason)
		select id, $2, $3, $6 from changed`,
		id, t.From, t.To, t.ErrorCode, t.ErrorMessage, t.Reason)
	if err != nil {
		return fmt.Errorf("item %d: %s -> %s: %w", id, t.From, t.To, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("item %d: %s -> %s: %w", id, t.From, t.To, ErrStaleStatus)
	}
	return nil
}

// StatusCounts returns the number of items of a batch in each status; every
// status is present, zero or not.
func (s *Store) StatusCounts(ctx context.Context, batchID int64) (map[upgrade.Status]int, error) {
	counts := make(map[upgrade.Status]int, len(upgrade.Statuses()))
	for _, st := range upgrade.Statuses() {
		counts[st] = 0
	}
	rows, err := s.db.Query(ctx, `select status, count(*) from batch_items where batch_id = $1 group by status`, batchID)
	if err != nil {
		return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st upgrade.Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
	}
	return counts, nil
}
