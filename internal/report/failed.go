package report

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// FailedSource streams a batch's failed items with their original inputs;
// *store.Store implements it.
type FailedSource interface {
	FailedItems(ctx context.Context, batchID int64, fn func(store.NewItem) error) error
}

// FailedHeader is the header of the failed-items export of a batch of
// operation op: every column the importer accepts for op (required, then
// optional; importer.Columns).
func FailedHeader(batch store.Batch) ([]string, error) {
	required, optional := importer.Columns(batch.Operation)
	if required == nil {
		return nil, fmt.Errorf("batch %q: operation %q has no import format", batch.Name, batch.Operation)
	}
	return append(required, optional...), nil
}

// WriteFailedCSV writes the failed items of batch to w in the import format
// of its operation (FailedHeader), one row per failed item in file order,
// with the item's original inputs: the file can be corrected and imported
// again as a new batch. A batch without failed items gives the header
// alone.
func WriteFailedCSV(ctx context.Context, w io.Writer, src FailedSource, batch store.Batch) error {
	header, err := FailedHeader(batch)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	rec := make([]string, len(header))
	err = src.FailedItems(ctx, batch.ID, func(it store.NewItem) error {
		for i, col := range header {
			v, err := importValue(it, col)
			if err != nil {
				return fmt.Errorf("batch %q, line %d: %w", batch.Name, it.LineNumber, err)
			}
			rec[i] = v
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write failed items of batch %q: %w", batch.Name, err)
	}
	return nil
}

// importValue is the value of import column col for item it, as the
// importer reads it back.
func importValue(it store.NewItem, col string) (string, error) {
	switch col {
	case importer.ColumnCustomerID:
		return it.CustomerID, nil
	case importer.ColumnProductFamily:
		return it.ProductFamily, nil
	case importer.ColumnSubscriptionID:
		return it.SubscriptionID, nil
	case importer.ColumnTargetOfferID, importer.ColumnToCatalogItemID:
		return it.TargetID, nil
	case importer.ColumnUpgradeType:
		return it.Options.UpgradeType, nil
	case importer.ColumnTransitionType:
		return it.Options.TransitionType, nil
	case importer.ColumnQuantity:
		if it.Options.Quantity == 0 {
			return "", nil
		}
		return strconv.Itoa(it.Options.Quantity), nil
	case importer.ColumnToSubscriptionID:
		return it.Options.ToSubscriptionID, nil
	case importer.ColumnTermDuration:
		return it.Options.TermDuration, nil
	case importer.ColumnBillingCycle:
		return it.Options.BillingCycle, nil
	case importer.ColumnPromotionID:
		return it.Options.PromotionID, nil
	case importer.ColumnFromCatalogItemID:
		return it.Options.FromCatalogItemID, nil
	default:
		return "", fmt.Errorf("import column %q has no item field", col)
	}
}
