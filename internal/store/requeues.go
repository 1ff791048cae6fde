package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// CodeInternalError is the error code of an item the service failed itself
// because its job kept vanishing (see FailPoisoned). It is a contract shown
// in reports.
const CodeInternalError = "internal_error"

// CountRequeues records one re-queue of each item in ids by reconcile,
// whose job of the given kind vanished: it adds one to the item's count for
// its current generation (a new generation starts from zero) and writes an
// item event saying so. Call it in the transaction that re-queues them.
func (s *Store) CountRequeues(ctx context.Context, ids []int64, kind string, maxRequeues int, worker string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.Exec(ctx, `
		with counted as (
		    update batch_items
		    set requeues = case when requeues_generation = generation then requeues + 1 else 1 end,
		        requeues_generation = generation
		    where id = any($1)
		    returning id, status, generation, requeues)
		insert into item_events (item_id, from_status, to_status, reason, generation, worker)
		select id, status, status,
		       format('re-queued: its %s job ended without settling the item (discarded after its attempts, a crash or panic, cancelled or deleted); re-queue %s of at most %s (reconcile.max_requeues)',
		              $2::text, requeues, $3::int),
		       generation, $4
		from counted`, ids, kind, maxRequeues, worker)
	if err != nil {
		return fmt.Errorf("count re-queues of %d items: %w", len(ids), err)
	}
	return nil
}

// Poisoned is an item FailPoisoned failed.
type Poisoned struct {
	ID        int64
	BatchID   int64
	BatchName string
	// Message is the item's new error message: the count and the last
	// error River recorded for its job.
	Message string
}

// FailPoisoned fails, with CodeInternalError, up to limit items of
// operation op in status st (pending or in_progress) whose job of the given
// kind vanished again after maxRequeues re-queues in their generation: the
// work cannot go on, and re-queueing it forever would hide that. An item
// qualifies exactly when reconcile would otherwise re-queue it (see
// UnqueueOrphans for pending items and OrphanedItems for items in progress:
// unchanged for at least quiet, not leased, no live job of kind; queued,
// for a pending item; for an item in progress, not stuck and in a batch
// that lets it be followed).
//
// The error message carries the last error River recorded for the item's
// newest job of that kind (a panic's value, the error of the last attempt),
// or says that none was recorded. Each failure is recorded in item_events as
// given up (Transition.GaveUp), so the automatic halt does not count it.
func (s *Store) FailPoisoned(ctx context.Context, op upgrade.Operation, st upgrade.Status, kind string, quiet time.Duration, maxRequeues int, worker string, limit int) ([]Poisoned, error) {
	if err := upgrade.CheckTransition(st, upgrade.StatusFailed); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `
		with poisoned as (
		    select i.id, i.requeues from batch_items i
		    join batches b on b.id = i.batch_id
		    where i.requeues > 0
		      and i.requeues_generation = i.generation and i.requeues >= $6
		      and i.status = $1 and b.operation = $2
		      and (i.lease_until is null or i.lease_until < now())
		      and i.status_changed_at < now() - make_interval(secs => $4)
		      and case when $1 = 'pending' then i.queued
		               else i.stuck_at is null
		                    and (b.status in ('running', 'cancelled') or (b.status = 'canary' and i.canary)) end
		      and not exists (
		          select 1 from river_job j
		          where j.kind = $3
		            and j.args @> jsonb_build_object('item_id', i.id)
		            and j.state in ('available', 'pending', 'running', 'retryable', 'scheduled'))
		    order by i.id
		    limit $5
		    for update of i skip locked),
		described as (
		    select p.id,
		           format('gave up: the item''s %s job ended without settling it %s times (re-queued %s times; reconcile.max_requeues is %s); %s',
		                  $3::text, p.requeues + 1, p.requeues, $6::int,
		                  case when j.id is null then 'its last job is no longer in River''s table, so no error is known'
		                       when j.error is null then format('River recorded no error for its last job (job %s, %s after %s attempts)', j.id, j.state, j.attempt)
		                       else format('last error (job %s, attempt %s): %s', j.id, j.attempt, left(j.error, 1000)) end) as message
		    from poisoned p
		    left join lateral (
		        select rj.id, rj.state, rj.attempt, rj.errors[array_length(rj.errors, 1)]->>'error' as error
		        from river_job rj
		        where rj.kind = $3 and rj.args @> jsonb_build_object('item_id', p.id)
		        order by rj.id desc
		        limit 1) j on true),
		changed as (
		    update batch_items i
		    set status = 'failed', error_code = $7, error_message = d.message, status_changed_at = now(),
		        stuck_at = null, queued = false
		    from described d
		    where i.id = d.id and i.status = $1
		    returning i.id, i.batch_id, i.generation, i.error_message),
		events as (
		    insert into item_events (item_id, from_status, to_status, reason, generation, error_code, worker, gave_up)
		    select id, $1, 'failed', 'gave up: its job kept vanishing', generation, $7, $8, true
		    from changed)
		select c.id, c.batch_id, b.name, c.error_message
		from changed c join batches b on b.id = c.batch_id
		order by c.id`,
		st, op, kind, quiet.Seconds(), limit, maxRequeues, CodeInternalError, worker)
	if err != nil {
		return nil, fmt.Errorf("fail poisoned %s %s items: %w", op, st, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Poisoned])
	if err != nil {
		return nil, fmt.Errorf("fail poisoned %s %s items: %w", op, st, err)
	}
	return out, nil
}
