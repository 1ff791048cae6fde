// Package report renders what operators read about a batch: the per line
// item report (CSV) and the status summary (table or JSON).
package report

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Header is the exact header of the CSV report of a product-upgrade batch.
// It is a contract: tools outside this repository read these columns by
// name and position. Other operations append their own columns (see
// HeaderFor).
func Header() []string {
	return []string{
		"customer_id", "product_family", "status", "upgrade_id", "line_item_status",
		"source_product_id", "source_product_name", "target_product_id", "target_product_name",
		"upgraded_date", "error_code", "error_message",
	}
}

// ItemColumns are appended to the header of every operation: whether the
// item needs a person's attention ("true" or "false"), and the item's own
// error code and message on every row of the item, so that a line item's or
// detail's error (error_code, error_message) never stands in for the item's.
func ItemColumns() []string { return []string{"attention", "item_error_code", "item_error_message"} }

// HeaderFor is the exact header of the CSV report of a batch of operation
// op: Header, then the operation's own columns, then ItemColumns, then (for
// subscription upgrades) the user name and e-mail of a license error row.
// For subscription upgrades upgrade_id is the target subscription; for
// transitions, the transition's operation id.
func HeaderFor(op upgrade.Operation) []string {
	switch op {
	case upgrade.SubscriptionUpgrade:
		h := append(Header(), "subscription_id", "target_offer_id", "upgrade_type", "detail_type", "detail_subject")
		return append(append(h, ItemColumns()...), "detail_name", "detail_email")
	case upgrade.Transition:
		h := append(Header(), "subscription_id", "target_catalog_item_id", "transition_type", "event_name", "event_status", "event_time")
		return append(h, ItemColumns()...)
	default:
		return append(Header(), ItemColumns()...)
	}
}

// RowSource streams a batch's report rows; *store.Store implements it.
type RowSource interface {
	ReportRows(ctx context.Context, batchID int64, fn func(store.ReportRow) error) error
}

// Formats of the report.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Formats lists the report formats.
func Formats() []string { return []string{FormatCSV, FormatJSON} }

// ContentType is the media type of a report written in format (one of
// Formats), "" for any other format. The failed-items export (see
// WriteFailedCSV) is of FormatCSV.
func ContentType(format string) string {
	switch format {
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatJSON:
		return "application/json"
	default:
		return ""
	}
}

// Write writes the report of batch to w in format (FormatCSV or FormatJSON).
func Write(ctx context.Context, w io.Writer, src RowSource, batch store.Batch, format string) error {
	switch format {
	case FormatCSV:
		return WriteCSV(ctx, w, src, batch)
	case FormatJSON:
		return WriteJSON(ctx, w, src, batch)
	default:
		return fmt.Errorf("report format %q: supported formats: %s, %s", format, FormatCSV, FormatJSON)
	}
}

// eachRecord calls fn with every report record of batch, in HeaderFor's
// column order; rec is reused between calls.
func eachRecord(ctx context.Context, src RowSource, batch store.Batch, fn func(rec []string) error) error {
	rec := make([]string, len(HeaderFor(batch.Operation)))
	return src.ReportRows(ctx, batch.ID, func(r store.ReportRow) error {
		rec[0], rec[1], rec[2], rec[3], rec[4] = r.CustomerID, r.ProductFamily, string(r.Status), r.UpgradeID, r.LineItemStatus
		rec[5], rec[6], rec[7], rec[8] = r.SourceProductID, r.SourceProductName, r.TargetProductID, r.TargetProductName
		rec[9], rec[10], rec[11] = formatTime(r.UpgradedDate), r.ErrorCode, r.ErrorMessage
		next := 12
		switch batch.Operation {
		case upgrade.SubscriptionUpgrade:
			rec[12], rec[13], rec[14], rec[15], rec[16] = r.SubscriptionID, r.Target, r.Type, r.DetailKind, r.DetailName
			next = 17
		case upgrade.Transition:
			rec[12], rec[13], rec[14], rec[15], rec[16], rec[17] = r.SubscriptionID, r.Target, r.Type, r.DetailName, r.DetailStatus, formatTime(r.DetailTime)
			next = 18
		}
		rec[next], rec[next+1], rec[next+2] = strconv.FormatBool(r.Attention), r.ItemErrorCode, r.ItemErrorMessage
		if batch.Operation == upgrade.SubscriptionUpgrade {
			rec[next+3], rec[next+4] = r.DetailUserName, r.DetailEmail
		}
		return fn(rec)
	})
}

// WriteCSV writes the report of batch to w: one row per line item (or
// subscription-upgrade error, or transition event), one row for an item
// without any, in the order of the imported file. Dates are RFC 3339 in
// UTC.
func WriteCSV(ctx context.Context, w io.Writer, src RowSource, batch store.Batch) error {
	cw := csv.NewWriter(w)
	header := HeaderFor(batch.Operation)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := eachRecord(ctx, src, batch, cw.Write); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report of batch %q: %w", batch.Name, err)
	}
	return nil
}

func formatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WriteJSON writes the report of batch to w as a JSON array with one object
// per CSV row, keyed by the CSV header names (HeaderFor) in header order,
// every value a string as in the CSV. Rows are written as they are read:
// the report is never held in memory.
func WriteJSON(ctx context.Context, w io.Writer, src RowSource, batch store.Batch) error {
	header := HeaderFor(batch.Operation)
	keys := make([][]byte, len(header))
	for i, h := range header {
		k, err := json.Marshal(h)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	if _, err := bw.WriteString("["); err != nil {
		return err
	}
	n := 0
	var obj []byte
	err := eachRecord(ctx, src, batch, func(rec []string) error {
		obj = obj[:0]
		if n > 0 {
			obj = append(obj, ',')
		}
		obj = append(obj, "\n{"...)
		for i, v := range rec {
			if i > 0 {
				obj = append(obj, ',')
			}
			obj = append(obj, keys[i]...)
			obj = append(obj, ':')
			obj = appendJSONString(obj, v)
		}
		obj = append(obj, '}')
		n++
		_, err := bw.Write(obj)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := bw.WriteString("\n]\n"); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report of batch %q: %w", batch.Name, err)
	}
	return nil
}

// appendJSONString appends s to b as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	v, err := json.Marshal(s)
	if err != nil { // a string always marshals; invalid UTF-8 is replaced
		return append(b, `""`...)
	}
	return append(b, v...)
}
