package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ReportRow is one row of a batch report: one per line item (product
// upgrades) or detail (subscription upgrades: upgrade and license errors;
// transitions: events), or one for an item without any.
type ReportRow struct {
	LineNumber        int
	CustomerID        string
	ProductFamily     string
	Status            upgrade.Status
	UpgradeID         string
	LineItemStatus    string
	SourceProductID   string
	SourceProductName string
	TargetProductID   string
	TargetProductName string
	UpgradedDate      *time.Time
	ErrorCode         string
	ErrorMessage      string

	// Subscription upgrades and transitions.
	SubscriptionID string
	Target         string // chosen target offer or catalog item (the file's, or the single eligible one)
	Type           string // upgrade or transition type
	DetailKind     string
	DetailName     string
	DetailStatus   string
	DetailTime     *time.Time
	// DetailUserName and DetailEmail are the user of a license error.
	DetailUserName string
	DetailEmail    string

	// Attention, ItemErrorCode and ItemErrorMessage are the item's own,
	// on every row of the item: whether a person must look at it, and its
	// error (why it failed, was ineligible or needs attention), which a
	// line item or detail row's own error never replaces.
	Attention        bool
	ItemErrorCode    string
	ItemErrorMessage string
}

// ReportRows streams a batch's report rows, in CSV line order and then line
// item or detail order, to fn. A line item or detail row carries its own
// error (a completed line item of a failed upgrade has none); an item
// without any carries the item's error, such as an ineligibility reason.
// Only each item's current generation is reported.
func (s *Store) ReportRows(ctx context.Context, batchID int64, fn func(ReportRow) error) error {
	rows, err := s.db.Query(ctx, `
		select i.line_number, i.customer_id::text, i.product_family, i.status, coalesce(u.upgrade_id, ''),
		       coalesce(l.status, ''), coalesce(l.source_product_id, ''), coalesce(l.source_product_name, ''),
		       coalesce(l.target_product_id, ''), coalesce(l.target_product_name, ''), l.upgraded_date,
		       case when l.id is not null then l.error_code when d.id is not null then d.code else i.error_code end,
		       case when l.id is not null then l.error_message when d.id is not null then d.message else i.error_message end,
		       coalesce(i.subscription_id::text, ''),
		       case when i.chosen_target <> '' then i.chosen_target else i.target_id end,
		       case when i.chosen_type <> '' then i.chosen_type
		            else coalesce(i.options->>'upgrade_type', i.options->>'transition_type', '') end,
		       coalesce(d.kind, ''), coalesce(d.name, ''), coalesce(d.status, ''), d.occurred_at,
		       coalesce(d.user_name, ''), coalesce(d.email, ''), i.attention, i.error_code, i.error_message
		from batch_items i
		left join upgrades u on u.item_id = i.id and u.generation = i.generation
		left join line_items l on l.item_id = i.id and l.generation = i.generation
		left join item_details d on d.item_id = i.id and d.generation = i.generation
		where i.batch_id = $1
		order by i.line_number, l.position, d.position`, batchID)
	if err != nil {
		return fmt.Errorf("report of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ReportRow
		if err := rows.Scan(&r.LineNumber, &r.CustomerID, &r.ProductFamily, &r.Status, &r.UpgradeID,
			&r.LineItemStatus, &r.SourceProductID, &r.SourceProductName, &r.TargetProductID,
			&r.TargetProductName, &r.UpgradedDate, &r.ErrorCode, &r.ErrorMessage,
			&r.SubscriptionID, &r.Target, &r.Type, &r.DetailKind, &r.DetailName, &r.DetailStatus, &r.DetailTime,
			&r.DetailUserName, &r.DetailEmail, &r.Attention, &r.ItemErrorCode, &r.ItemErrorMessage); err != nil {
			return fmt.Errorf("report of batch %d: %w", batchID, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report of batch %d: %w", batchID, err)
	}
	return nil
}

// FailedItems streams the failed items of batch batchID to fn in file
// order, each with its original inputs as imported (line number, customer,
// product family, subscription, target named in the file and options), so
// they can be written out again in the import format.
func (s *Store) FailedItems(ctx context.Context, batchID int64, fn func(NewItem) error) error {
	rows, err := s.db.Query(ctx, `
		select line_number, customer_id::text, product_family, coalesce(subscription_id::text, ''), target_id, options
		from batch_items
		where batch_id = $1 and status = 'failed'
		order by line_number`, batchID)
	if err != nil {
		return fmt.Errorf("failed items of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it NewItem
		var opts []byte
		if err := rows.Scan(&it.LineNumber, &it.CustomerID, &it.ProductFamily, &it.SubscriptionID, &it.TargetID, &opts); err != nil {
			return fmt.Errorf("failed items of batch %d: %w", batchID, err)
		}
		if err := json.Unmarshal(opts, &it.Options); err != nil {
			return fmt.Errorf("failed items of batch %d: options of line %d: %w", batchID, it.LineNumber, err)
		}
		if err := fn(it); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("failed items of batch %d: %w", batchID, err)
	}
	return nil
}
