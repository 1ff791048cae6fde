package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ErrBatchExists is returned when a batch name is already taken.
var ErrBatchExists = errors.New("batch already exists")

// Batch is one bulk migration.
type Batch struct {
	ID            int64
	Name          string
	Operation     upgrade.Operation
	CorrelationID string
	Status        upgrade.BatchStatus
	StatusReason  string
	DryRun        bool
	CanarySize    int
	ItemCount     int
	SourceFile    string
	CreatedAt     time.Time
	CompletedAt   *time.Time
}

// NewBatch describes a batch to create.
type NewBatch struct {
	Name          string
	Operation     upgrade.Operation
	CorrelationID string
	SourceFile    string
	// DryRun batches only check eligibility; their items end eligible or
	// ineligible (or failed when no target can be chosen).
	DryRun bool
	// CanarySize > 0 starts the batch as a canary: only the first
	// CanarySize items (in file order) run, then the batch pauses.
	CanarySize int
}

// NewItem is one CSV row of a batch to create.
type NewItem struct {
	LineNumber    int
	CustomerID    string
	ProductFamily string // product upgrades
	// SubscriptionID is the source subscription (subscription upgrades and
	// transitions).
	SubscriptionID string
	// TargetID is the target offer (subscription upgrades) or catalog item
	// (transitions) named in the file; empty means the single eligible one.
	TargetID string
	Options  upgrade.Options
}

// ItemSource yields the items of a batch being created, in file order: the
// next item and true, or false when there are no more. An error aborts the
// batch.
type ItemSource func() (NewItem, bool, error)

// Items returns an ItemSource over items, for callers that hold a few rows in
// memory (tests, small batches).
func Items(items []NewItem) ItemSource {
	i := 0
	return func() (NewItem, bool, error) {
		if i >= len(items) {
			return NewItem{}, false, nil
		}
		i++
		return items[i-1], true, nil
	}
}

// itemColumns are the batch_items columns CreateBatch writes, in COPY order.
var itemColumns = []string{"batch_id", "line_number", "customer_id", "product_family", "subscription_id", "target_id", "options", "canary"}

// noOptions is the encoding of upgrade.Options{} (most rows), made once.
var noOptions = mustJSON(upgrade.Options{})

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// itemRows adapts an ItemSource to pgx.CopyFromSource, reusing one row
// slice, so that COPY streams: nothing of the batch is held in memory.
type itemRows struct {
	batchID int64
	canary  int
	next    ItemSource
	n       int
	row     []any
	err     error
}

func (r *itemRows) Next() bool {
	it, ok, err := r.next()
	if err != nil {
		r.err = err
		return false
	}
	if !ok {
		return false
	}
	// GUIDs go as their 16 bytes: pgx encodes a string for a uuid column
	// only after a failed plan and a text round trip, which cost more than
	// the rest of the row.
	customer, err := uuidValue(it.CustomerID)
	if err != nil {
		r.err = fmt.Errorf("line %d: customer id: %w", it.LineNumber, err)
		return false
	}
	var sub any
	if it.SubscriptionID != "" {
		if sub, err = uuidValue(it.SubscriptionID); err != nil {
			r.err = fmt.Errorf("line %d: subscription id: %w", it.LineNumber, err)
			return false
		}
	}
	opts := noOptions
	if it.Options != (upgrade.Options{}) {
		if opts, err = json.Marshal(it.Options); err != nil {
			r.err = fmt.Errorf("line %d: options: %w", it.LineNumber, err)
			return false
		}
	}
	r.row[0], r.row[1], r.row[2], r.row[3], r.row[4], r.row[5], r.row[6], r.row[7] =
		r.batchID, int32(it.LineNumber), customer, it.ProductFamily, sub, it.TargetID, opts, r.n < r.canary
	r.n++
	return true
}

func (r *itemRows) Values() ([]any, error) { return r.row, nil }

func (r *itemRows) Err() error { return r.err }

// uuidValue is the GUID s as pgx encodes it without conversion.
func uuidValue(s string) (pgtype.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return pgtype.UUID{}, err
	}
	return pgtype.UUID{Bytes: u, Valid: true}, nil
}

// CreateBatch writes a batch and the items next yields, streamed through
// COPY (memory does not grow with the number of items), marks the first
// nb.CanarySize items as canary, and sets the batch's item_count and the
// ids its dispatch ends at. Call it inside InTx so the batch and its items
// become visible together, or not at all. A taken name gives
// ErrBatchExists; an error from next is returned wrapped. CreateBatch does
// not look for duplicate items: see Duplicates.
func (s *Store) CreateBatch(ctx context.Context, nb NewBatch, next ItemSource) (Batch, error) {
	var b Batch
	// One connection throughout: the last id is the session's currval.
	err := s.InTx(ctx, func(_ pgx.Tx, st *Store) error {
		var err error
		b, err = st.createBatch(ctx, nb, next)
		return err
	})
	return b, err
}

func (s *Store) createBatch(ctx context.Context, nb NewBatch, next ItemSource) (Batch, error) {
	b := Batch{
		Name: nb.Name, Operation: nb.Operation, CorrelationID: nb.CorrelationID, SourceFile: nb.SourceFile,
		Status: upgrade.BatchRunning, DryRun: nb.DryRun, CanarySize: nb.CanarySize,
	}
	if nb.CanarySize > 0 {
		b.Status = upgrade.BatchCanary
		b.StatusReason = fmt.Sprintf("canary: the first %d item(s) run, then the batch waits for resume", nb.CanarySize)
	}
	err := s.db.QueryRow(ctx, `
		insert into batches (name, operation, correlation_id, item_count, source_file, status, status_reason, dry_run, canary_size)
		values ($1, $2, $3, 0, $4, $5, $6, $7, $8)
		returning id, created_at`,
		nb.Name, nb.Operation, nb.CorrelationID, nb.SourceFile, b.Status, b.StatusReason, nb.DryRun, nb.CanarySize,
	).Scan(&b.ID, &b.CreatedAt)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return Batch{}, fmt.Errorf("batch %q: %w", nb.Name, ErrBatchExists)
		}
		return Batch{}, fmt.Errorf("create batch %q: %w", nb.Name, err)
	}

	src := &itemRows{batchID: b.ID, canary: nb.CanarySize, next: next, row: make([]any, len(itemColumns))}
	n, err := s.db.CopyFrom(ctx, pgx.Identifier{"batch_items"}, itemColumns, src)
	if src.err != nil {
		return Batch{}, fmt.Errorf("copy items of batch %q: %w", nb.Name, src.err)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("copy items of batch %q: %w", nb.Name, err)
	}
	if n > 0 {
		// The items' ids come from the identity sequence in file order; the
		// last this session drew is the batch's last item. Canary items are
		// found only for a canary batch.
		_, err = s.db.Exec(ctx, `
			update batches set item_count = $2,
			    last_item_id = currval(pg_get_serial_sequence('batch_items', 'id')),
			    last_canary_id = case when $3 then coalesce(
			        (select max(id) from batch_items where batch_id = $1 and canary), 0) else 0 end
			where id = $1`, b.ID, n, nb.CanarySize > 0)
		if err != nil {
			return Batch{}, fmt.Errorf("count items of batch %q: %w", nb.Name, err)
		}
	}
	b.ItemCount = int(n)
	return b, nil
}

// ItemIDs returns the ids of batch batchID's items in line order.
func (s *Store) ItemIDs(ctx context.Context, batchID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `select id from batch_items where batch_id = $1 order by line_number`, batchID)
	if err != nil {
		return nil, fmt.Errorf("read item ids of batch %d: %w", batchID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read item ids of batch %d: %w", batchID, err)
	}
	return ids, nil
}

// Duplicate is an item whose subject (customer and product family, or
// customer and subscription) an earlier line of its batch already has.
type Duplicate struct {
	Line           int // the duplicate
	FirstLine      int // the first line with the same subject
	CustomerID     string
	ProductFamily  string
	SubscriptionID string // "" for product upgrades
}

// Duplicates finds, with one query, the items of batch batchID repeating an
// earlier item's subject (the same customer_id, product_family and
// subscription_id; importers normalise them): the first limit of them in
// line order (at least one, which carries the count), and how many there
// are in all. customers, when not nil,
// limits the search to those customers (the importer's candidates). Importers
// call it after CreateBatch, in the same transaction, and roll back when
// there are any.
func (s *Store) Duplicates(ctx context.Context, batchID int64, limit int, customers []string) ([]Duplicate, int, error) {
	rows, err := s.db.Query(ctx, `
		with g as materialized (
		    select customer_id, product_family, subscription_id,
		           min(line_number) as first_line, count(*) - 1 as extra
		    from batch_items
		    where batch_id = $1 and ($3::uuid[] is null or customer_id = any($3::uuid[]))
		    group by customer_id, product_family, subscription_id
		    having count(*) > 1)
		select i.line_number, g.first_line, i.customer_id::text, i.product_family,
		       coalesce(i.subscription_id::text, ''), (select sum(extra) from g)::int
		from g
		join batch_items i on i.batch_id = $1 and i.customer_id = g.customer_id
		    and i.product_family = g.product_family
		    and i.subscription_id is not distinct from g.subscription_id
		where i.line_number <> g.first_line
		order by i.line_number
		limit $2`, batchID, max(limit, 1), customers)
	if err != nil {
		return nil, 0, fmt.Errorf("find duplicate items of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	var out []Duplicate
	total := 0
	for rows.Next() {
		var d Duplicate
		if err := rows.Scan(&d.Line, &d.FirstLine, &d.CustomerID, &d.ProductFamily, &d.SubscriptionID, &total); err != nil {
			return nil, 0, fmt.Errorf("find duplicate items of batch %d: %w", batchID, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find duplicate items of batch %d: %w", batchID, err)
	}
	return out, total, nil
}

const batchColumns = `id, name, operation, correlation_id::text, status, status_reason, dry_run, canary_size,
	item_count, source_file, created_at, completed_at`

func scanBatch(row pgx.Row) (Batch, error) {
	var b Batch
	err := row.Scan(&b.ID, &b.Name, &b.Operation, &b.CorrelationID, &b.Status, &b.StatusReason, &b.DryRun,
		&b.CanarySize, &b.ItemCount, &b.SourceFile, &b.CreatedAt, &b.CompletedAt)
	return b, err
}

// BatchByName returns the batch with that name, or ErrNotFound.
func (s *Store) BatchByName(ctx context.Context, name string) (Batch, error) {
	return s.batchByName(ctx, name, "")
}

// LockBatch is BatchByName that also locks the batch row until the
// transaction ends (call it inside InTx): decisions taken on its status
// then hold, and RollUpBatches leaves the batch alone meanwhile.
func (s *Store) LockBatch(ctx context.Context, name string) (Batch, error) {
	return s.batchByName(ctx, name, " for update")
}

func (s *Store) batchByName(ctx context.Context, name, lock string) (Batch, error) {
	b, err := scanBatch(s.db.QueryRow(ctx, `select `+batchColumns+` from batches where name = $1`+lock, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Batch{}, fmt.Errorf("batch %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("read batch %q: %w", name, err)
	}
	return b, nil
}

// Batches returns every batch, newest first.
func (s *Store) Batches(ctx context.Context) ([]Batch, error) {
	rows, err := s.db.Query(ctx, `select `+batchColumns+` from batches order by id desc`)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	return out, nil
}

// ErrBatchStatus wraps a batch status change the batch state machine
// refuses.
var ErrBatchStatus = errors.New("batch status change refused")

// SetBatchStatus moves batch id to status to, checking the change against
// the batch state machine (package upgrade) and the status the batch is in
// now, which it locks. It returns the batch as it was before the change.
// Call it inside InTx when other writes must go with it.
func (s *Store) SetBatchStatus(ctx context.Context, id int64, to upgrade.BatchStatus, reason string) (Batch, error) {
	b, err := scanBatch(s.db.QueryRow(ctx, `select `+batchColumns+` from batches where id = $1 for update`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Batch{}, fmt.Errorf("batch %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("read batch %d: %w", id, err)
	}
	if err := upgrade.CheckBatchTransition(b.Status, to); err != nil {
		return b, fmt.Errorf("batch %q: %w: %w", b.Name, ErrBatchStatus, err)
	}
	_, err = s.db.Exec(ctx, `
		update batches set status = $2, status_reason = $3, status_changed_at = now(),
		    completed_at = case when $2 = 'completed' then now() else null end
		where id = $1`, id, to, reason)
	if err != nil {
		return b, fmt.Errorf("batch %q: %s -> %s: %w", b.Name, b.Status, to, err)
	}
	return b, nil
}

// BatchRollup is one batch status change made by RollUpBatches.
type BatchRollup struct {
	Batch string
	To    upgrade.BatchStatus // cancelled: the cancelled batch's last item became final
}

// RollUpBatches moves batches on when their items say so: a running or
// canary batch whose items are all final completes; a canary batch whose
// canary items are all final pauses for an operator; a cancelled batch
// whose items are all final gets its completion time. It returns the
// changes made.
//
// It first locks the batches it may move, skipping those an operator's
// change holds (LockBatch, SetBatchStatus: they are looked at next time),
// and only then reads their items, in a statement of its own: a batch
// whose failed items an operator retried is never completed from a view
// taken before the retry.
func (s *Store) RollUpBatches(ctx context.Context) ([]BatchRollup, error) {
	var out []BatchRollup
	err := s.InTx(ctx, func(_ pgx.Tx, st *Store) error {
		var err error
		out, err = st.rollUp(ctx)
		return err
	})
	return out, err
}

func (s *Store) rollUp(ctx context.Context) ([]BatchRollup, error) {
	rows, err := s.db.Query(ctx, `
		select id from batches
		where status in ('running', 'canary') or (status = 'cancelled' and completed_at is null)
		for update skip locked`)
	if err != nil {
		return nil, fmt.Errorf("roll up batches: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("roll up batches: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err = s.db.Query(ctx, `
		with done as (
		    update batches b set status = 'completed', status_reason = '', status_changed_at = now(), completed_at = now()
		    where b.id = any($1) and b.status in ('running', 'canary')
		      and not exists (select 1 from batch_items i
		                      where i.batch_id = b.id and i.status in ('pending', 'in_progress'))
		    returning b.name, 'completed' as status),
		canary as (
		    update batches b set status = 'paused', status_changed_at = now(),
		        status_reason = 'canary finished: resume the batch to run the rest'
		    where b.id = any($1) and b.status = 'canary'
		      and exists (select 1 from batch_items i
		                  where i.batch_id = b.id and i.status in ('pending', 'in_progress') and not i.canary)
		      and not exists (select 1 from batch_items i
		                      where i.batch_id = b.id and i.status in ('pending', 'in_progress') and i.canary)
		    returning b.name, 'paused' as status),
		cancelled as (
		    update batches b set completed_at = now()
		    where b.id = any($1) and b.status = 'cancelled' and b.completed_at is null
		      and not exists (select 1 from batch_items i
		                      where i.batch_id = b.id and i.status in ('pending', 'in_progress'))
		    returning b.name, 'cancelled' as status)
		select name, status from done
		union all select name, status from canary
		union all select name, status from cancelled`, ids)
	if err != nil {
		return nil, fmt.Errorf("roll up batches: %w", err)
	}
	defer rows.Close()
	var out []BatchRollup
	for rows.Next() {
		var r BatchRollup
		if err := rows.Scan(&r.Batch, &r.To); err != nil {
			return nil, fmt.Errorf("roll up batches: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("roll up batches: %w", err)
	}
	return out, nil
}
