package store

import (
	"context"
	"fmt"
	"time"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ReportRow is one row of a batch report: one per line item, or one for an
// item without line items.
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
}

// ReportRows streams a batch's report rows, in CSV line order and then line
// item order, to fn. A line item row carries that line item's own error (a
// completed line item of a failed upgrade has none); an item without line
// items carries the item's error, such as an ineligibility reason.
func (s *Store) ReportRows(ctx context.Context, batchID int64, fn func(ReportRow) error) error {
	rows, err := s.db.Query(ctx, `
		select i.line_number, i.customer_id::text, i.product_family, i.status, coalesce(u.upgrade_id, ''),
		       coalesce(l.status, ''), coalesce(l.source_product_id, ''), coalesce(l.source_product_name, ''),
		       coalesce(l.target_product_id, ''), coalesce(l.target_product_name, ''), l.upgraded_date,
		       case when l.id is null then i.error_code else l.error_code end,
		       case when l.id is null then i.error_message else l.error_message end
		from batch_items i
		left join upgrades u on u.item_id = i.id
		left join line_items l on l.item_id = i.id
		where i.batch_id = $1
		order by i.line_number, l.position`, batchID)
	if err != nil {
		return fmt.Errorf("report of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ReportRow
		if err := rows.Scan(&r.LineNumber, &r.CustomerID, &r.ProductFamily, &r.Status, &r.UpgradeID,
			&r.LineItemStatus, &r.SourceProductID, &r.SourceProductName, &r.TargetProductID,
			&r.TargetProductName, &r.UpgradedDate, &r.ErrorCode, &r.ErrorMessage); err != nil {
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
