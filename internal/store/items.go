package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ErrStaleStatus is returned when an item is no longer in the status a
// transition expected: another worker got there first.
var ErrStaleStatus = errors.New("item status changed concurrently")

// Item is one batch item with what a job needs to work on it.
type Item struct {
	ID            int64
	BatchID       int64
	BatchName     string
	BatchStatus   upgrade.BatchStatus
	Operation     upgrade.Operation
	DryRun        bool
	CorrelationID string
	BatchCreated  time.Time
	LineNumber    int
	CustomerID    string
	ProductFamily string
	// SubscriptionID, TargetID and Options are the operation-specific
	// inputs (see NewItem).
	SubscriptionID string
	TargetID       string
	Options        upgrade.Options
	Canary         bool
	Status         upgrade.Status
	// StatusChangedAt is when the item entered Status; for an item in
	// progress, when its work began at Partner Center.
	StatusChangedAt time.Time
	// Generation counts operator retries; results are kept per generation.
	Generation   int
	ErrorCode    string
	ErrorMessage string
	// UpgradeID is the Partner Center object carrying this generation's
	// work: the product upgrade id, the transition's operation id or the
	// upgraded subscription's target subscription id.
	UpgradeID string
	PollCount int
	// CreateRequestSeq numbers the item's create MS-RequestId; see
	// AdvanceCreateRequest.
	CreateRequestSeq int
	// CreateUnknown is set while a create has been sent without a definite
	// answer (timeout, 5xx, crash): the next attempt must look for the
	// object before creating again.
	CreateUnknown bool
	// CreateBody is the create request prepared for the current generation
	// and CreateRequestSeq (see PrepareCreate), or nil when none was.
	CreateBody []byte
	Stuck      bool
	// Lease is the lease a job's claim won on the item (see ClaimItem);
	// Item leaves it empty.
	Lease Lease
}

// Starts reports whether the item's batch lets it start new work.
func (it Item) Starts() bool { return it.BatchStatus.Starts(it.Canary) }

// Follows reports whether the item's batch lets work already begun be
// followed.
func (it Item) Follows() bool { return it.BatchStatus.Follows(it.Canary) }

// Item returns the item with that id, or ErrNotFound.
func (s *Store) Item(ctx context.Context, id int64) (Item, error) {
	var it Item
	var upgradeID, subscriptionID *string
	var pollCount *int
	var stuckAt *time.Time
	var opts []byte
	err := s.db.QueryRow(ctx, `
		select i.id, i.batch_id, b.name, b.status, b.operation, b.dry_run, b.correlation_id::text, b.created_at,
		       i.line_number, i.customer_id::text, i.product_family, i.subscription_id::text, i.target_id, i.options,
		       i.canary, i.status, i.status_changed_at, i.generation, i.error_code, i.error_message,
		       i.create_request_seq, i.create_unknown, i.stuck_at, u.upgrade_id, u.poll_count,
		       case when i.create_body_generation = i.generation and i.create_body_seq = i.create_request_seq
		            then i.create_body end
		from batch_items i
		join batches b on b.id = i.batch_id
		left join upgrades u on u.item_id = i.id and u.generation = i.generation
		where i.id = $1`, id,
	).Scan(&it.ID, &it.BatchID, &it.BatchName, &it.BatchStatus, &it.Operation, &it.DryRun, &it.CorrelationID, &it.BatchCreated,
		&it.LineNumber, &it.CustomerID, &it.ProductFamily, &subscriptionID, &it.TargetID, &opts,
		&it.Canary, &it.Status, &it.StatusChangedAt, &it.Generation, &it.ErrorCode, &it.ErrorMessage,
		&it.CreateRequestSeq, &it.CreateUnknown, &stuckAt, &upgradeID, &pollCount, &it.CreateBody)
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, fmt.Errorf("item %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Item{}, fmt.Errorf("read item %d: %w", id, err)
	}
	if err := json.Unmarshal(opts, &it.Options); err != nil {
		return Item{}, fmt.Errorf("read options of item %d: %w", id, err)
	}
	if subscriptionID != nil {
		it.SubscriptionID = *subscriptionID
	}
	if upgradeID != nil {
		it.UpgradeID = *upgradeID
	}
	if pollCount != nil {
		it.PollCount = *pollCount
	}
	it.Stuck = stuckAt != nil
	return it, nil
}

// MarkCreateSent records, before a create is sent, that its outcome is not
// known yet. It survives a crash, so the next attempt looks for the object
// before creating again.
func (s *Store) MarkCreateSent(ctx context.Context, id int64) error {
	if _, err := s.db.Exec(ctx, `update batch_items set create_unknown = true where id = $1`, id); err != nil {
		return fmt.Errorf("mark create of item %d sent: %w", id, err)
	}
	return nil
}

// AdvanceCreateRequest moves an item's create MS-RequestId to the next
// sequence number and clears the unknown-outcome mark. Call it after a
// create got a definite answer: the next create is a new request, not a
// repeat.
func (s *Store) AdvanceCreateRequest(ctx context.Context, id int64) error {
	if _, err := s.db.Exec(ctx, `
		update batch_items set create_request_seq = create_request_seq + 1, create_unknown = false
		where id = $1`, id); err != nil {
		return fmt.Errorf("advance create request of item %d: %w", id, err)
	}
	return nil
}

// ErrLeaseLost is returned by a fenced write (CheckLease, TransitionItem
// with a Lease) when the item no longer carries the lease the job won: its
// process was declared dead and the lease released, or the lease lapsed and
// another worker took it. Whoever holds it now works the item.
var ErrLeaseLost = errors.New("item lease lost to another worker")

// Lease is an item lease as a claim won it: the owner (a process id) and
// the lease's epoch, its fencing token. Every claim that wins moves the
// epoch on, and releasing the leases of a process declared dead does too,
// so a late process cannot pass a check with the lease it once held.
type Lease struct {
	Owner string
	Epoch int64
}

// Held reports whether l names a lease (the zero Lease is none).
func (l Lease) Held() bool { return l.Owner != "" }

// ClaimItem takes the item's lease for owner until ttl from now, so no other
// worker (in this or another process) works the item at the same time. It
// reports false when another owner holds an unexpired lease, or owner is a
// process declared dead. Claiming a lease one already holds extends it.
// Every claim that wins returns a new epoch: the fencing token of what the
// claimant then does (CheckLease, Transition.Lease).
func (s *Store) ClaimItem(ctx context.Context, id int64, owner string, ttl time.Duration) (Lease, bool, error) {
	var epoch int64
	err := s.db.QueryRow(ctx, `
		update batch_items set lease_owner = $2, lease_until = now() + make_interval(secs => $3),
		    lease_epoch = lease_epoch + 1
		where id = $1 and (lease_until is null or lease_until < now() or lease_owner = $2)
		  and not exists (select 1 from processes p where p.id = $2 and p.dead_at is not null)
		returning lease_epoch`,
		id, owner, ttl.Seconds()).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("claim item %d: %w", id, err)
	}
	return Lease{Owner: owner, Epoch: epoch}, true, nil
}

// CheckLease is the fence before a Partner Center call: it extends the
// item's lease by ttl from now when the item still carries l (owner and
// epoch), and returns ErrLeaseLost otherwise.
func (s *Store) CheckLease(ctx context.Context, id int64, l Lease, ttl time.Duration) error {
	tag, err := s.db.Exec(ctx, `
		update batch_items set lease_until = now() + make_interval(secs => $4)
		where id = $1 and lease_owner = $2 and lease_epoch = $3`,
		id, l.Owner, l.Epoch, ttl.Seconds())
	if err != nil {
		return fmt.Errorf("check lease of item %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("item %d, lease of %s epoch %d: %w", id, l.Owner, l.Epoch, ErrLeaseLost)
	}
	return nil
}

// ReleaseItem gives up the lease l on the item, if the item still carries
// it.
func (s *Store) ReleaseItem(ctx context.Context, id int64, l Lease) error {
	_, err := s.db.Exec(ctx, `
		update batch_items set lease_owner = '', lease_until = null
		where id = $1 and lease_owner = $2 and lease_epoch = $3`, id, l.Owner, l.Epoch)
	if err != nil {
		return fmt.Errorf("release item %d: %w", id, err)
	}
	return nil
}

// MarkStuck flags an item in progress as stuck: Partner Center has been
// working on it longer than the configured limit, so it is no longer
// polled. Resuming its batch clears the flag and polls again.
func (s *Store) MarkStuck(ctx context.Context, id int64, worker string) error {
	_, err := s.db.Exec(ctx, `
		with marked as (
		    update batch_items set stuck_at = now()
		    where id = $1 and status = 'in_progress' and stuck_at is null
		    returning id, generation)
		insert into item_events (item_id, from_status, to_status, reason, generation, worker)
		select id, 'in_progress', 'in_progress', 'flagged stuck: in progress longer than the configured limit; no longer polled', generation, $2
		from marked`, id, worker)
	if err != nil {
		return fmt.Errorf("mark item %d stuck: %w", id, err)
	}
	return nil
}

// Transition is a status change of one item.
type Transition struct {
	From, To     upgrade.Status
	Reason       string // free text for the item's history
	ErrorCode    string // Partner Center error code, for failed and ineligible items (and completed ones needing attention)
	ErrorMessage string // Partner Center's description or reason
	Worker       string // who made the change, for the item's history
	// GaveUp marks a failure the service decided rather than Partner
	// Center: attempts spent on errors that are not Partner Center's answer
	// about the item. The automatic halt does not count it.
	GaveUp bool
	// Attention flags a completed item whose result is partial (a failed
	// line item, license faults, a failed event after the conversion): a
	// person must look at it. ErrorCode and ErrorMessage say why. Any
	// transition without it clears the flag.
	Attention bool
	// Lease, when held, fences the change: it is made only while the item
	// still carries this lease (owner and epoch), else TransitionItem
	// returns ErrLeaseLost. Jobs set the lease their claim won; operator
	// actions leave it empty.
	Lease Lease
}

// TransitionItem moves an item from t.From to t.To, enforcing the state
// machine of package upgrade, and records the change in item_events. It
// returns ErrStaleStatus when the item is no longer in t.From, and
// ErrLeaseLost when t.Lease is held and the item no longer carries it. Retries
// (failed -> pending) go through RetryFailed, which also starts a new
// generation.
func (s *Store) TransitionItem(ctx context.Context, id int64, t Transition) error {
	if err := upgrade.CheckTransition(t.From, t.To); err != nil {
		return fmt.Errorf("item %d: %w", id, err)
	}
	if t.From == upgrade.StatusFailed {
		return fmt.Errorf("item %d: a failed item is retried with RetryFailed, not moved", id)
	}
	tag, err := s.db.Exec(ctx, `
		with changed as (
		    update batch_items
		    set status = $3, error_code = $4, error_message = $5, status_changed_at = now(),
		        stuck_at = case when $3 = 'in_progress' then stuck_at else null end,
		        attention = $8
		    where id = $1 and status = $2
		      and ($10 = '' or (lease_owner = $10 and lease_epoch = $11))
		    returning id, generation)
		insert into item_events (item_id, from_status, to_status, reason, generation, error_code, worker, gave_up, error_message)
		select id, $2, $3, $6, generation, $4, $7, $9, $5 from changed`,
		id, t.From, t.To, t.ErrorCode, t.ErrorMessage, t.Reason, t.Worker, t.Attention, t.GaveUp, t.Lease.Owner, t.Lease.Epoch)
	if err != nil {
		return fmt.Errorf("item %d: %s -> %s: %w", id, t.From, t.To, err)
	}
	if tag.RowsAffected() == 0 {
		if t.Lease.Held() {
			var held bool
			if err := s.db.QueryRow(ctx, `select lease_owner = $2 and lease_epoch = $3 from batch_items where id = $1`,
				id, t.Lease.Owner, t.Lease.Epoch).Scan(&held); err == nil && !held {
				return fmt.Errorf("item %d: %s -> %s: %w", id, t.From, t.To, ErrLeaseLost)
			}
		}
		return fmt.Errorf("item %d: %s -> %s: %w", id, t.From, t.To, ErrStaleStatus)
	}
	return nil
}

// StatusCounts returns the number of items of a batch in each status; every
// status is present, zero or not.
func (s *Store) StatusCounts(ctx context.Context, batchID int64) (map[upgrade.Status]int, error) {
	counts := make(map[upgrade.Status]int, len(upgrade.Statuses()))
	for _, st := range upgrade.Statuses() {
		counts[st] = 0
	}
	rows, err := s.db.Query(ctx, `select status, count(*) from batch_items where batch_id = $1 group by status`, batchID)
	if err != nil {
		return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st upgrade.Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
		}
		counts[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count items of batch %d: %w", batchID, err)
	}
	return counts, nil
}

// StuckCount returns how many items of a batch are flagged stuck.
func (s *Store) StuckCount(ctx context.Context, batchID int64) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `
		select count(*) from batch_items
		where batch_id = $1 and status = 'in_progress' and stuck_at is not null`, batchID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count stuck items of batch %d: %w", batchID, err)
	}
	return n, nil
}

// PrepareCreate records the create request an attempt of item it chose
// (body, as it will be sent) with the target and type it names, for the
// item's current generation and create sequence. Until the sequence moves
// on (AdvanceCreateRequest) or a new generation starts, Item returns it as
// CreateBody: a repeat after an unknown outcome sends the same bytes under
// the same MS-RequestId, and a job resumed after a 429 or a snooze sends it
// without reading Partner Center's eligibilities again.
func (s *Store) PrepareCreate(ctx context.Context, it Item, body []byte, target, typ string) error {
	tag, err := s.db.Exec(ctx, `
		update batch_items
		set create_body = $2, create_body_generation = $3, create_body_seq = $4, chosen_target = $5, chosen_type = $6
		where id = $1 and generation = $3 and create_request_seq = $4`,
		it.ID, body, it.Generation, it.CreateRequestSeq, target, typ)
	if err != nil {
		return fmt.Errorf("record the prepared create of item %d: %w", it.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record the prepared create of item %d: its generation or create sequence moved on", it.ID)
	}
	return nil
}

// ChooseTarget records the target (offer or catalog item) and type chosen
// for an item's current generation from Partner Center's eligible ones.
func (s *Store) ChooseTarget(ctx context.Context, id int64, target, typ string) error {
	if _, err := s.db.Exec(ctx, `update batch_items set chosen_target = $2, chosen_type = $3 where id = $1`, id, target, typ); err != nil {
		return fmt.Errorf("record chosen target of item %d: %w", id, err)
	}
	return nil
}
