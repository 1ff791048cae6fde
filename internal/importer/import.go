package importer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// Operation is the only operation this importer knows: moving customers from
// legacy Azure subscriptions to the Azure plan.
const Operation = "product_upgrade"

// Enqueuer enqueues the first job of each new item, inside the import
// transaction so items and jobs appear together or not at all.
type Enqueuer interface {
	EnqueueCreate(ctx context.Context, tx pgx.Tx, itemIDs []int64) error
}

// Import validates the CSV read from r (named file in messages) and creates
// batch name with one item per row and a queued create job per item, all in
// one transaction. Any problem leaves the database untouched.
func Import(ctx context.Context, st *store.Store, enq Enqueuer, name, file string, r io.Reader) (store.Batch, error) {
	if err := checkBatchName(name); err != nil {
		return store.Batch{}, err
	}
	items, err := Parse(r, file)
	if err != nil {
		return store.Batch{}, err
	}
	var batch store.Batch
	err = st.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		b, ids, err := st.CreateBatch(ctx, store.NewBatch{
			Name:          name,
			Operation:     Operation,
			CorrelationID: uuid.NewString(),
			SourceFile:    file,
		}, items)
		if err != nil {
			return err
		}
		if err := enq.EnqueueCreate(ctx, tx, ids); err != nil {
			return fmt.Errorf("enqueue jobs of batch %q: %w", name, err)
		}
		batch = b
		return nil
	})
	if err != nil {
		return store.Batch{}, err
	}
	return batch, nil
}

func checkBatchName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("batch name: must not be empty")
	case len(name) > 200:
		return fmt.Errorf("batch name: longer than 200 characters")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("batch name %q: contains control characters", name)
	}
	return nil
}
