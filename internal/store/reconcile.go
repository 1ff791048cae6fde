package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// OrphanedItems returns up to limit ids of items of operation op that sit
// in status st, unchanged for at least quiet, whose batch lets them be
// worked (see upgrade.BatchStatus), that are not flagged stuck, not leased
// by a live worker, and have no live River job of the given kind
// (available, pending, running, retryable or scheduled): their job
// vanished, was discarded, or was never enqueued. Jobs are matched by their
// args' item_id.
func (s *Store) OrphanedItems(ctx context.Context, op upgrade.Operation, st upgrade.Status, kind string, quiet time.Duration, limit int) ([]int64, error) {
	rows, err := s.db.Query(ctx, `
		select i.id from batch_items i
		join batches b on b.id = i.batch_id
		where i.status = $1 and b.operation = $5
		  and (b.status = 'running' or (b.status = 'canary' and i.canary)
		       or ($1 = 'in_progress' and b.status = 'cancelled'))
		  and i.stuck_at is null
		  and (i.lease_until is null or i.lease_until < now())
		  and i.status_changed_at < now() - make_interval(secs => $3)
		  and not exists (
		      select 1 from river_job j
		      where j.kind = $2
		        and j.args @> jsonb_build_object('item_id', i.id)
		        and j.state in ('available', 'pending', 'running', 'retryable', 'scheduled'))
		order by i.id
		limit $4`, st, kind, quiet.Seconds(), limit, op)
	if err != nil {
		return nil, fmt.Errorf("find orphaned %s %s items: %w", op, st, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find orphaned %s %s items: %w", op, st, err)
	}
	return ids, nil
}
