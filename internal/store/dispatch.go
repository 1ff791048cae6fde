package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// StartableBatch is a batch whose pending items may be dispatched.
type StartableBatch struct {
	ID         int64
	Operation  upgrade.Operation
	CanaryOnly bool
	// Cursor is the id up to which the batch's items were all dispatched
	// or settled; the dispatcher continues after it.
	Cursor int64
}

// StartableBatches returns the running and canary batches, oldest first.
func (s *Store) StartableBatches(ctx context.Context) ([]StartableBatch, error) {
	rows, err := s.db.Query(ctx, `
		select id, operation, status = 'canary', dispatch_cursor from batches
		where status in ('running', 'canary') order by id`)
	if err != nil {
		return nil, fmt.Errorf("startable batches: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StartableBatch])
	if err != nil {
		return nil, fmt.Errorf("startable batches: %w", err)
	}
	return out, nil
}

// QueuedCount returns how many dispatched items of all batches still wait
// for their start job to move them on: the depth of the start queue.
func (s *Store) QueuedCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `select count(*) from batch_items where status = 'pending' and queued`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count queued items: %w", err)
	}
	return n, nil
}

// TakeForDispatch marks up to limit pending, not yet queued items of a batch
// as queued, in file order (ids follow it) after the batch's cursor (only
// canary items when canaryOnly), moves the cursor past them, and returns
// their ids. Call it inside InTx with the insert of their jobs, so an item is
// queued exactly when its job exists. One dispatcher runs at a time.
//
// The cursor is read from the batch row, locked until the transaction ends,
// not from b: an item handed back meanwhile (Unqueue, RetryFailed,
// UnqueueOrphans) rewinds it, and moving it forward from a stale value
// would leave that item behind the cursor, never queued.
//
// The walk ends at the batch's last item (last canary item for canaryOnly):
// once the cursor is there, nothing is read.
func (s *Store) TakeForDispatch(ctx context.Context, b *StartableBatch, limit int) ([]int64, error) {
	var end int64
	if err := s.db.QueryRow(ctx, `
		select dispatch_cursor, case when $2 then last_canary_id else last_item_id end
		from batches where id = $1 for update`, b.ID, b.CanaryOnly).Scan(&b.Cursor, &end); err != nil {
		return nil, fmt.Errorf("dispatch items of batch %d: read cursor: %w", b.ID, err)
	}
	if b.Cursor >= end {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `
		with picked as (
		    select id from batch_items
		    where batch_id = $1 and id > $4 and id <= $5 and status = 'pending' and not queued and (canary or not $2)
		    order by id
		    limit $3
		    for update),
		marked as (
		    update batch_items i set queued = true from picked p where i.id = p.id
		    returning i.id)
		select id from marked order by id`, b.ID, b.CanaryOnly, limit, b.Cursor, end)
	if err != nil {
		return nil, fmt.Errorf("dispatch items of batch %d: %w", b.ID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("dispatch items of batch %d: %w", b.ID, err)
	}
	if len(ids) > 0 {
		b.Cursor = ids[len(ids)-1]
		if _, err := s.db.Exec(ctx, `update batches set dispatch_cursor = $2 where id = $1`, b.ID, b.Cursor); err != nil {
			return nil, fmt.Errorf("move dispatch cursor of batch %d: %w", b.ID, err)
		}
	}
	return ids, nil
}

// Unqueue hands a pending item back to the dispatcher: its start job ended
// without working on it (the batch was paused, halted or is a canary
// holding it back), so it must be queued again when the batch runs.
func (s *Store) Unqueue(ctx context.Context, id int64) error {
	_, err := s.db.Exec(ctx, `
		with item as (
		    update batch_items set queued = false where id = $1 and status = 'pending'
		    returning batch_id, id)
		update batches b set dispatch_cursor = least(b.dispatch_cursor, item.id - 1)
		from item where b.id = item.batch_id`, id)
	if err != nil {
		return fmt.Errorf("unqueue item %d: %w", id, err)
	}
	return nil
}

// UnqueueOrphans hands back to the dispatcher up to limit queued pending
// items of operation op, unchanged for at least quiet secs, that are not
// leased and have no live River job of the given kind: their job vanished.
// It returns their ids; reconcile counts the re-queue (CountRequeues).
func (s *Store) UnqueueOrphans(ctx context.Context, op upgrade.Operation, kind string, quietSecs float64, limit int) ([]int64, error) {
	rows, err := s.db.Query(ctx, `
		with orphans as (
		    update batch_items set queued = false
		    where id in (
		        select i.id from batch_items i join batches b on b.id = i.batch_id
		        where i.status = 'pending' and i.queued and b.operation = $1
		          and (i.lease_until is null or i.lease_until < now())
		          and i.status_changed_at < now() - make_interval(secs => $3)
		          and not exists (
		              select 1 from river_job j
		              where j.kind = $2 and j.args @> jsonb_build_object('item_id', i.id)
		                and j.state in ('available', 'pending', 'running', 'retryable', 'scheduled'))
		        limit $4)
		    returning batch_id, id),
		rewound as (
		    update batches b set dispatch_cursor = least(b.dispatch_cursor, o.first - 1)
		    from (select batch_id, min(id) as first from orphans group by batch_id) o
		    where b.id = o.batch_id)
		select id from orphans order by id`, op, kind, quietSecs, limit)
	if err != nil {
		return nil, fmt.Errorf("unqueue orphaned %s items: %w", op, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("unqueue orphaned %s items: %w", op, err)
	}
	return ids, nil
}
