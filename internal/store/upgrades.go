package store

import (
	"context"
	"fmt"
	"time"
)

// LineItem is one subscription moved by a product upgrade, as Partner Center
// last reported it.
type LineItem struct {
	SourceProductID   string
	SourceProductName string
	TargetProductID   string
	TargetProductName string
	Status            string
	UpgradedDate      *time.Time
	ErrorCode         string
	ErrorMessage      string
}

// AdoptUpgrade records that Partner Center upgrade upgradeID carries an
// item's work. Adopting the same upgrade twice is a no-op; an item never
// changes upgrade.
func (s *Store) AdoptUpgrade(ctx context.Context, itemID int64, upgradeID string) error {
	var got string
	err := s.db.QueryRow(ctx, `
		insert into upgrades (item_id, upgrade_id) values ($1, $2)
		on conflict (item_id) do update set upgrade_id = upgrades.upgrade_id
		returning upgrade_id`, itemID, upgradeID).Scan(&got)
	if err != nil {
		return fmt.Errorf("adopt upgrade %s for item %d: %w", upgradeID, itemID, err)
	}
	if got != upgradeID {
		return fmt.Errorf("adopt upgrade %s for item %d: item already carries upgrade %s", upgradeID, itemID, got)
	}
	return nil
}

// RecordPoll stores the status Partner Center last reported for an item's
// upgrade and counts the poll.
func (s *Store) RecordPoll(ctx context.Context, itemID int64, status string) error {
	_, err := s.db.Exec(ctx, `
		update upgrades set status = $2, poll_count = poll_count + 1, last_polled_at = now()
		where item_id = $1`, itemID, status)
	if err != nil {
		return fmt.Errorf("record poll of item %d: %w", itemID, err)
	}
	return nil
}

// FinishUpgrade stores the final status of an item's upgrade and replaces its
// line items with lines, in Partner Center's order.
func (s *Store) FinishUpgrade(ctx context.Context, itemID int64, status string, lines []LineItem) error {
	_, err := s.db.Exec(ctx, `
		update upgrades set status = $2, poll_count = poll_count + 1, last_polled_at = now(), finished_at = now()
		where item_id = $1`, itemID, status)
	if err != nil {
		return fmt.Errorf("finish upgrade of item %d: %w", itemID, err)
	}
	if _, err := s.db.Exec(ctx, `delete from line_items where item_id = $1`, itemID); err != nil {
		return fmt.Errorf("replace line items of item %d: %w", itemID, err)
	}
	for i, l := range lines {
		_, err := s.db.Exec(ctx, `
			insert into line_items (item_id, position, source_product_id, source_product_name,
			    target_product_id, target_product_name, status, upgraded_date, error_code, error_message)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			itemID, i, l.SourceProductID, l.SourceProductName, l.TargetProductID, l.TargetProductName,
			l.Status, l.UpgradedDate, l.ErrorCode, l.ErrorMessage)
		if err != nil {
			return fmt.Errorf("insert line item %d of item %d: %w", i, itemID, err)
		}
	}
	return nil
}
