// Package report renders what operators read about a batch: the per line
// item report (CSV) and the status summary (table or JSON).
package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// Header is the exact header of the CSV report. It is a contract: tools
// outside this repository read these columns by name and position.
func Header() []string {
	return []string{
		"customer_id", "product_family", "status", "upgrade_id", "line_item_status",
		"source_product_id", "source_product_name", "target_product_id", "target_product_name",
		"upgraded_date", "error_code", "error_message",
	}
}

// RowSource streams a batch's report rows; *store.Store implements it.
type RowSource interface {
	ReportRows(ctx context.Context, batchID int64, fn func(store.ReportRow) error) error
}

// WriteCSV writes the report of batch to w: one row per line item, one row
// for an item without line items, in the order of the imported file.
// Dates are RFC 3339 in UTC.
func WriteCSV(ctx context.Context, w io.Writer, src RowSource, batch store.Batch) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header()); err != nil {
		return err
	}
	rec := make([]string, len(Header()))
	err := src.ReportRows(ctx, batch.ID, func(r store.ReportRow) error {
		date := ""
		if r.UpgradedDate != nil {
			date = r.UpgradedDate.UTC().Format(time.RFC3339Nano)
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = r.CustomerID, r.ProductFamily, string(r.Status), r.UpgradeID, r.LineItemStatus
		rec[5], rec[6], rec[7], rec[8] = r.SourceProductID, r.SourceProductName, r.TargetProductID, r.TargetProductName
		rec[9], rec[10], rec[11] = date, r.ErrorCode, r.ErrorMessage
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report of batch %q: %w", batch.Name, err)
	}
	return nil
}
