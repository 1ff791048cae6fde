package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Throughput windows of Progress and BatchesProgress.
const (
	ShortWindow = 5 * time.Minute
	LongWindow  = 15 * time.Minute
)

// The windows as SQL intervals. They are written into the statements, not
// passed as parameters, so that even a cached generic plan knows the range
// over item_events.created_at is narrow and takes item_events_created_idx.
var (
	shortInterval = fmt.Sprintf("interval '%d seconds'", int(ShortWindow.Seconds()))
	longInterval  = fmt.Sprintf("interval '%d seconds'", int(LongWindow.Seconds()))
)

// settledEvents selects the item_events of the last LongWindow that moved an
// item into a final status. It starts from item_events_created_idx (a range
// over created_at, so only the recent events are read whatever the size of
// the table) and reaches each event's item through batch_items' primary key.
var settledEvents = `
	from item_events e
	join batch_items i on i.id = e.item_id
	where e.created_at > now() - ` + longInterval + `
	  and e.to_status in ('eligible', 'ineligible', 'completed', 'failed', 'cancelled')
	  and e.from_status <> e.to_status`

// Progress is how fast a batch moves and what holds it back.
type Progress struct {
	// SettledShort and SettledLong count the items of the batch that
	// reached a final status within ShortWindow and LongWindow (an item
	// retried and settled again counts again).
	SettledShort int
	SettledLong  int
	// OldestInProgress is how long the batch's oldest item in progress has
	// been in progress; nil when none is.
	OldestInProgress *time.Duration
	// TopErrors are the most frequent error codes of the batch's failed and
	// ineligible items and of its items flagged for attention, most
	// frequent first (items without a code are left out).
	TopErrors []ErrorCount
}

// ErrorCount is the number of items with one error code.
type ErrorCount struct {
	Code  string `json:"code"`
	Count int    `json:"count"`
}

// Progress reads batch batchID's throughput over the last ShortWindow and
// LongWindow (from item_events), the age of its oldest item in progress and
// its topErrors most frequent error codes. Each part reads only what it
// needs: the recent events through item_events_created_idx, then the batch's
// items in progress, and its failed, ineligible and attention items.
func (s *Store) Progress(ctx context.Context, batchID int64, topErrors int) (Progress, error) {
	var p Progress
	var oldest *float64
	err := s.db.QueryRow(ctx, `
		with settled as (
		    select e.created_at `+settledEvents+` and i.batch_id = $1)
		select (select count(*) from settled where created_at > now() - `+shortInterval+`)::int,
		       (select count(*) from settled)::int,
		       (select extract(epoch from now() - min(status_changed_at))::float8
		        from batch_items where batch_id = $1 and status = 'in_progress')`,
		batchID,
	).Scan(&p.SettledShort, &p.SettledLong, &oldest)
	if err != nil {
		return Progress{}, fmt.Errorf("read progress of batch %d: %w", batchID, err)
	}
	if oldest != nil {
		d := max(time.Duration(*oldest*float64(time.Second)), 0)
		p.OldestInProgress = &d
	}
	if topErrors <= 0 {
		return p, nil
	}
	rows, err := s.db.Query(ctx, `
		select error_code, count(*)::int as n from batch_items
		where batch_id = $1 and (status in ('failed', 'ineligible') or attention) and error_code <> ''
		group by error_code
		order by n desc, error_code
		limit $2`, batchID, topErrors)
	if err != nil {
		return Progress{}, fmt.Errorf("read error codes of batch %d: %w", batchID, err)
	}
	p.TopErrors, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ErrorCount])
	if err != nil {
		return Progress{}, fmt.Errorf("read error codes of batch %d: %w", batchID, err)
	}
	return p, nil
}

// BatchProgress is one batch with its open items and recent throughput, for
// the list of batches.
type BatchProgress struct {
	Batch
	// Open counts the items not yet final (pending or in progress).
	Open int
	// SettledShort and SettledLong are as in Progress.
	SettledShort int
	SettledLong  int
	// Attention counts the items flagged for attention (see AttentionCount).
	Attention int
}

// rowWithExtra scans a batch row followed by more columns into extra.
type rowWithExtra struct {
	pgx.Row
	extra []any
}

func (r rowWithExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// BatchesProgress returns every batch, newest first, with its number of open
// items and how many of its items settled within ShortWindow and
// LongWindow, in one statement. Open items are counted only in batches that
// can have any: a completed batch, or a cancelled one with its completion
// time, has none (RollUpBatches sets them so only then), so the cost follows
// the items of the unfinished batches. The recent events are read as in
// Progress; the items needing attention through batch_items_attention_idx,
// which holds only them.
func (s *Store) BatchesProgress(ctx context.Context) ([]BatchProgress, error) {
	rows, err := s.db.Query(ctx, `
		with settled as (
		    select i.batch_id,
		           count(*) filter (where e.created_at > now() - `+shortInterval+`)::int as short,
		           count(*)::int as long
		    `+settledEvents+`
		    group by i.batch_id)
		select `+batchColumns+`, coalesce(o.n, 0), coalesce(s.short, 0), coalesce(s.long, 0), a.n
		from batches
		left join lateral (
		    select count(*)::int as n from batch_items i
		    where batches.status <> 'completed'
		      and not (batches.status = 'cancelled' and batches.completed_at is not null)
		      and i.batch_id = batches.id and i.status in ('pending', 'in_progress')) o on true
		left join settled s on s.batch_id = batches.id
		cross join lateral (
		    select count(*)::int as n from batch_items i
		    where i.batch_id = batches.id and i.attention) a
		order by batches.id desc`)
	if err != nil {
		return nil, fmt.Errorf("list batches with progress: %w", err)
	}
	defer rows.Close()
	var out []BatchProgress
	for rows.Next() {
		var bp BatchProgress
		bp.Batch, err = scanBatch(rowWithExtra{Row: rows, extra: []any{&bp.Open, &bp.SettledShort, &bp.SettledLong, &bp.Attention}})
		if err != nil {
			return nil, fmt.Errorf("list batches with progress: %w", err)
		}
		out = append(out, bp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches with progress: %w", err)
	}
	return out, nil
}
