package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrBatchExists is returned when a batch name is already taken.
var ErrBatchExists = errors.New("batch already exists")

// Batch statuses.
const (
	BatchRunning   = "running"
	BatchCompleted = "completed"
)

// Batch is one bulk migration.
type Batch struct {
	ID            int64
	Name          string
	Operation     string
	CorrelationID string
	Status        string
	ItemCount     int
	SourceFile    string
	CreatedAt     time.Time
	CompletedAt   *time.Time
}

// NewBatch describes a batch to create.
type NewBatch struct {
	Name          string
	Operation     string
	CorrelationID string
	SourceFile    string
}

// NewItem is one CSV row of a batch to create.
type NewItem struct {
	LineNumber    int
	CustomerID    string
	ProductFamily string
}

// CreateBatch writes a batch and all its items (through COPY) and returns the
// batch and its item ids in line order. Call it inside InTx so the batch, its
// items and their jobs become visible together. A taken name gives
// ErrBatchExists.
func (s *Store) CreateBatch(ctx context.Context, nb NewBatch, items []NewItem) (Batch, []int64, error) {
	b := Batch{Name: nb.Name, Operation: nb.Operation, CorrelationID: nb.CorrelationID, SourceFile: nb.SourceFile, ItemCount: len(items), Status: BatchRunning}
	err := s.db.QueryRow(ctx, `
		insert into batches (name, operation, correlation_id, item_count, source_file)
		values ($1, $2, $3, $4, $5)
		returning id, created_at`,
		nb.Name, nb.Operation, nb.CorrelationID, len(items), nb.SourceFile,
	).Scan(&b.ID, &b.CreatedAt)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return Batch{}, nil, fmt.Errorf("batch %q: %w", nb.Name, ErrBatchExists)
		}
		return Batch{}, nil, fmt.Errorf("create batch %q: %w", nb.Name, err)
	}

	_, err = s.db.CopyFrom(ctx, pgx.Identifier{"batch_items"},
		[]string{"batch_id", "line_number", "customer_id", "product_family"},
		pgx.CopyFromSlice(len(items), func(i int) ([]any, error) {
			it := items[i]
			return []any{b.ID, it.LineNumber, it.CustomerID, it.ProductFamily}, nil
		}))
	if err != nil {
		return Batch{}, nil, fmt.Errorf("copy items of batch %q: %w", nb.Name, err)
	}

	rows, err := s.db.Query(ctx, `select id from batch_items where batch_id = $1 order by line_number`, b.ID)
	if err != nil {
		return Batch{}, nil, fmt.Errorf("read item ids of batch %q: %w", nb.Name, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return Batch{}, nil, fmt.Errorf("read item ids of batch %q: %w", nb.Name, err)
	}
	return b, ids, nil
}

const batchColumns = `id, name, operation, correlation_id::text, status, item_count, source_file, created_at, completed_at`

func scanBatch(row pgx.Row) (Batch, error) {
	var b Batch
	err := row.Scan(&b.ID, &b.Name, &b.Operation, &b.CorrelationID, &b.Status, &b.ItemCount, &b.SourceFile, &b.CreatedAt, &b.CompletedAt)
	return b, err
}

// BatchByName returns the batch with that name, or ErrNotFound.
func (s *Store) BatchByName(ctx context.Context, name string) (Batch, error) {
	b, err := scanBatch(s.db.QueryRow(ctx, `select `+batchColumns+` from batches where name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Batch{}, fmt.Errorf("batch %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("read batch %q: %w", name, err)
	}
	return b, nil
}

// CompleteFinishedBatches marks every running batch whose items are all in a
// final status as completed, and returns their names.
func (s *Store) CompleteFinishedBatches(ctx context.Context) ([]string, error) {
	rows, err := s.db.Query(ctx, `
		update batches b set status = 'completed', completed_at = now()
		where b.status = 'running'
		  and not exists (
		      select 1 from batch_items i
		      where i.batch_id = b.id and i.status in ('pending', 'in_progress'))
		returning b.name`)
	if err != nil {
		return nil, fmt.Errorf("complete finished batches: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("complete finished batches: %w", err)
	}
	return names, nil
}
