package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// CancelPending cancels every pending item of a batch, recording each change,
// and returns how many it cancelled. Items in progress are left alone:
// Partner Center cannot cancel work that has begun.
func (s *Store) CancelPending(ctx context.Context, batchID int64, reason, worker string) (int, error) {
	if err := upgrade.CheckTransition(upgrade.StatusPending, upgrade.StatusCancelled); err != nil {
		return 0, err
	}
	tag, err := s.db.Exec(ctx, `
		with changed as (
		    update batch_items set status = 'cancelled', status_changed_at = now()
		    where batch_id = $1 and status = 'pending'
		    returning id, generation)
		insert into item_events (item_id, from_status, to_status, reason, generation, worker)
		select id, 'pending', 'cancelled', $2, generation, $3 from changed`, batchID, reason, worker)
	if err != nil {
		return 0, fmt.Errorf("cancel pending items of batch %d: %w", batchID, err)
	}
	return int(tag.RowsAffected()), nil
}

// RetryFailed moves the failed items of a batch (only those with errorCode,
// when it is not empty) back to pending in a new generation, recording each
// change with the error it had, and returns their ids. The earlier
// generation's upgrade, line items, details, events and calls stay, so each
// retried item is linked to its earlier attempts.
func (s *Store) RetryFailed(ctx context.Context, batchID int64, errorCode, reason, worker string) ([]int64, error) {
	if err := upgrade.CheckTransition(upgrade.StatusFailed, upgrade.StatusPending); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
		with target as (
		    select id, generation, error_code, error_message from batch_items
		    where batch_id = $1 and status = 'failed' and ($2 = '' or error_code = $2)
		    for update),
		changed as (
		    update batch_items i
		    set status = 'pending', generation = i.generation + 1, error_code = '', error_message = '',
		        status_changed_at = now(), create_unknown = false, stuck_at = null, queued = false
		    from target t where i.id = t.id
		    returning i.id, i.generation),
		events as (
		    insert into item_events (item_id, from_status, to_status, reason, generation, error_code, worker)
		    select c.id, 'failed', 'pending',
		           $3 || ' (generation ' || t.generation || ' failed: ' || t.error_code || ' ' || left(t.error_message, 200) || ')',
		           c.generation, t.error_code, $4
		    from changed c join target t on t.id = c.id),
		rewound as (
		    update batches set dispatch_cursor = least(dispatch_cursor, (select min(id) - 1 from changed))
		    where id = $1 and exists (select 1 from changed))
		select id from changed order by id`, batchID, errorCode, reason, worker)
	if err != nil {
		return nil, fmt.Errorf("retry failed items of batch %d: %w", batchID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("retry failed items of batch %d: %w", batchID, err)
	}
	return ids, nil
}

// InProgressItems returns the ids of a batch's items in progress, which
// need a follow job when the batch resumes, in file order, and clears their
// stuck flags so that resuming a batch polls stuck items again. Pending
// items need nothing: the dispatcher queues them.
func (s *Store) InProgressItems(ctx context.Context, batchID int64) ([]int64, error) {
	if _, err := s.db.Exec(ctx, `
		update batch_items set stuck_at = null
		where batch_id = $1 and status = 'in_progress' and stuck_at is not null`, batchID); err != nil {
		return nil, fmt.Errorf("clear stuck flags of batch %d: %w", batchID, err)
	}
	rows, err := s.db.Query(ctx, `
		select id from batch_items
		where batch_id = $1 and status = 'in_progress'
		order by line_number`, batchID)
	if err != nil {
		return nil, fmt.Errorf("items in progress of batch %d: %w", batchID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("items in progress of batch %d: %w", batchID, err)
	}
	return ids, nil
}

// HaltPolicy is when a batch halts by itself: once at least MinItems items
// settled within Window, and the share of them that failed reaches
// FailureRate. A zero FailureRate disables it.
type HaltPolicy struct {
	FailureRate float64
	Window      time.Duration
	MinItems    int
}

// haltCodesShown is how many error codes a halt's reason names; the rest
// are summed up as other codes.
const haltCodesShown = 5

// HaltIfFailing halts a running or canary batch whose failure rate over the
// policy's window passed the threshold, and returns the reason when it did.
// The reason names the counted failures' codes, most frequent first.
//
// Only outcomes Partner Center decided count: a failure the service gave up
// on (Transition.GaveUp: attempts exhausted on errors that are not Partner
// Center's answer about the item, a job that kept vanishing) is neither a
// failure nor a settled item here. Ineligible items do not count as
// failures; retried items count again.
func (s *Store) HaltIfFailing(ctx context.Context, batchID int64, p HaltPolicy) (string, error) {
	if p.FailureRate <= 0 {
		return "", nil
	}
	var reason string
	err := s.db.QueryRow(ctx, `
		with recent as (
		    select e.to_status, e.error_code from item_events e
		    join batch_items i on i.id = e.item_id
		    where i.batch_id = $1 and e.created_at > now() - make_interval(secs => $2)
		      and e.to_status in ('completed', 'failed', 'ineligible', 'eligible')
		      and not e.gave_up),
		rate as (
		    select count(*) as settled, count(*) filter (where to_status = 'failed') as failed from recent),
		codes as (
		    select coalesce(nullif(error_code, ''), 'no code') as code, count(*) as n,
		           row_number() over (order by count(*) desc, coalesce(nullif(error_code, ''), 'no code')) as rank
		    from recent where to_status = 'failed'
		    group by 1),
		named as (
		    select string_agg(code || ' ×' || n, ', ' order by rank) filter (where rank <= $6)
		           || coalesce(', other codes ×' || sum(n) filter (where rank > $6), '') as list
		    from codes)
		update batches b
		set status = 'halted', status_changed_at = now(),
		    status_reason = format('halted: %s of the last %s settled items failed within %s (threshold %s%%): %s; fix the cause, then resume',
		                           r.failed, r.settled, $5::text, round($3 * 100), n.list)
		from rate r, named n
		where b.id = $1 and b.status in ('running', 'canary')
		  and r.settled >= $4 and r.failed::float8 / r.settled >= $3
		returning b.status_reason`,
		batchID, p.Window.Seconds(), p.FailureRate, p.MinItems, p.Window.String(), haltCodesShown).Scan(&reason)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("check failure rate of batch %d: %w", batchID, err)
	}
	return reason, nil
}
