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

// Detail kinds.
const (
	DetailUpgradeError = "upgrade_error" // a subscription upgrade's upgradeErrors entry
	DetailLicenseError = "license_error" // a subscription upgrade's licenseErrors entry (one per user fault)
	DetailEvent        = "event"         // a transition event
)

// Detail is one upgrade error, license error or transition event. An event
// with several errors is one Detail per error.
type Detail struct {
	Kind       string
	Name       string // event name, or the user object id of a license error
	Status     string // event status
	Code       string // the error code exactly as Partner Center sent it
	Message    string // the error text, with its additional details and source
	OccurredAt *time.Time
	// UserName and Email are the user of a license error.
	UserName string
	Email    string
	// Source is the component that reported a license fault;
	// AdditionalDetails an upgrade error's additionalDetails (and a
	// fault's data). Both are part of Message too.
	Source            string
	AdditionalDetails string
}

// AdoptUpgrade records that Partner Center object upgradeID (a product
// upgrade id, a transition's operation id, a target subscription id) carries
// a generation of an item's work. Adopting the same object twice is a no-op;
// a generation never changes object.
func (s *Store) AdoptUpgrade(ctx context.Context, itemID int64, generation int, upgradeID string) error {
	var got string
	err := s.db.QueryRow(ctx, `
		insert into upgrades (item_id, generation, upgrade_id) values ($1, $2, $3)
		on conflict (item_id, generation) do update set upgrade_id = upgrades.upgrade_id
		returning upgrade_id`, itemID, generation, upgradeID).Scan(&got)
	if err != nil {
		return fmt.Errorf("adopt %s for item %d: %w", upgradeID, itemID, err)
	}
	if got != upgradeID {
		return fmt.Errorf("adopt %s for item %d: the item already carries %s", upgradeID, itemID, got)
	}
	return nil
}

// RecordPoll stores the status Partner Center last reported for an item's
// work and counts the poll.
func (s *Store) RecordPoll(ctx context.Context, itemID int64, generation int, status string) error {
	_, err := s.db.Exec(ctx, `
		update upgrades set status = $3, poll_count = poll_count + 1, last_polled_at = now()
		where item_id = $1 and generation = $2`, itemID, generation, status)
	if err != nil {
		return fmt.Errorf("record poll of item %d: %w", itemID, err)
	}
	return nil
}

// FinishUpgrade stores the final status of an item's work and replaces this
// generation's line items with lines, in Partner Center's order.
func (s *Store) FinishUpgrade(ctx context.Context, itemID int64, generation int, status string, lines []LineItem) error {
	_, err := s.db.Exec(ctx, `
		update upgrades set status = $3, poll_count = poll_count + 1, last_polled_at = now(), finished_at = now()
		where item_id = $1 and generation = $2`, itemID, generation, status)
	if err != nil {
		return fmt.Errorf("finish upgrade of item %d: %w", itemID, err)
	}
	if _, err := s.db.Exec(ctx, `delete from line_items where item_id = $1 and generation = $2`, itemID, generation); err != nil {
		return fmt.Errorf("replace line items of item %d: %w", itemID, err)
	}
	for i, l := range lines {
		_, err := s.db.Exec(ctx, `
			insert into line_items (item_id, generation, position, source_product_id, source_product_name,
			    target_product_id, target_product_name, status, upgraded_date, error_code, error_message)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			itemID, generation, i, l.SourceProductID, l.SourceProductName, l.TargetProductID, l.TargetProductName,
			l.Status, l.UpgradedDate, l.ErrorCode, l.ErrorMessage)
		if err != nil {
			return fmt.Errorf("insert line item %d of item %d: %w", i, itemID, err)
		}
	}
	return nil
}

// ReplaceDetails replaces a generation's details (upgrade errors, license
// errors, transition events) with details, in order.
func (s *Store) ReplaceDetails(ctx context.Context, itemID int64, generation int, details []Detail) error {
	if _, err := s.db.Exec(ctx, `delete from item_details where item_id = $1 and generation = $2`, itemID, generation); err != nil {
		return fmt.Errorf("replace details of item %d: %w", itemID, err)
	}
	for i, d := range details {
		_, err := s.db.Exec(ctx, `
			insert into item_details (item_id, generation, position, kind, name, status, code, message, occurred_at,
			    user_name, email, source, additional_details)
			values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			itemID, generation, i, d.Kind, d.Name, d.Status, d.Code, d.Message, d.OccurredAt,
			d.UserName, d.Email, d.Source, d.AdditionalDetails)
		if err != nil {
			return fmt.Errorf("insert detail %d of item %d: %w", i, itemID, err)
		}
	}
	return nil
}

// EarlierUpgradeIDs returns the Partner Center objects adopted by an item's
// generations before generation: a retried item must not adopt the object
// whose failure it is retrying. A first attempt (generation 0), most items,
// has none and costs no query.
func (s *Store) EarlierUpgradeIDs(ctx context.Context, itemID int64, generation int) (map[string]bool, error) {
	if generation <= 0 {
		return map[string]bool{}, nil
	}
	rows, err := s.db.Query(ctx, `select lower(upgrade_id) from upgrades where item_id = $1 and generation < $2`, itemID, generation)
	if err != nil {
		return nil, fmt.Errorf("earlier upgrades of item %d: %w", itemID, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("earlier upgrades of item %d: %w", itemID, err)
		}
		out[id] = true
	}
	return out, rows.Err()
}
