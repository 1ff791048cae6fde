package store

import (
	"context"
	"fmt"
)

// RecordUnknownStatus stores a status value Partner Center reported for an
// item's work that the service does not know (verbatim), counts the poll and
// returns how many polls found an unknown status so far.
func (s *Store) RecordUnknownStatus(ctx context.Context, itemID int64, generation int, status string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `
		update upgrades set status = $3, poll_count = poll_count + 1, last_polled_at = now(),
		    unknown_polls = unknown_polls + 1
		where item_id = $1 and generation = $2
		returning unknown_polls`, itemID, generation, status).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("record unknown status of item %d: %w", itemID, err)
	}
	return n, nil
}

// FlagAttention flags an item in progress for attention and stuck, with code
// and message saying why: it stays in_progress (Partner Center has not said
// it is done) and is no longer polled until its batch is resumed. It is
// recorded in the item's history. An item no longer in progress is left
// alone.
func (s *Store) FlagAttention(ctx context.Context, id int64, worker, code, message string) error {
	_, err := s.db.Exec(ctx, `
		with marked as (
		    update batch_items set stuck_at = coalesce(stuck_at, now()), attention = true,
		        error_code = $3, error_message = $4
		    where id = $1 and status = 'in_progress'
		    returning id, generation)
		insert into item_events (item_id, from_status, to_status, reason, generation, error_code, worker)
		select id, 'in_progress', 'in_progress', 'flagged for attention and stuck: ' || $4, generation, $3, $2
		from marked`, id, worker, code, message)
	if err != nil {
		return fmt.Errorf("flag item %d for attention: %w", id, err)
	}
	return nil
}

// AttentionCount returns how many items of a batch are flagged for
// attention: completed with a partial result, or in progress with a status
// the service does not know.
func (s *Store) AttentionCount(ctx context.Context, batchID int64) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `select count(*) from batch_items where batch_id = $1 and attention`, batchID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count items needing attention in batch %d: %w", batchID, err)
	}
	return n, nil
}
