package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// HoldOutagePrefix starts the name of an outage hold: "outage:" followed by
// the endpoint family that stopped answering (see OutageHold).
const HoldOutagePrefix = "outage:"

// OutageHold is the name of the outage hold of an endpoint family.
func OutageHold(family string) string { return HoldOutagePrefix + family }

// IsOutage reports whether h is an outage hold, which lasts until an answer
// releases it rather than until its Until (there the next probe is due).
func (h Hold) IsOutage() bool { return strings.HasPrefix(h.Name, HoldOutagePrefix) }

// Family is the endpoint family of an outage hold, or "" for another hold.
func (h Hold) Family() string {
	f, ok := strings.CutPrefix(h.Name, HoldOutagePrefix)
	if !ok {
		return ""
	}
	return f
}

// OutagePolicy says when transient failures become an outage hold and how
// the hold probes.
type OutagePolicy struct {
	// AfterFailures transient failures in a row, across items and
	// replicas, place the hold; below 1 counts as 1.
	AfterFailures int
	// ProbeBase is the wait before the first probe, doubled after each
	// probe up to ProbeMax.
	ProbeBase, ProbeMax time.Duration
}

// OutageStreak is what RecordTransient found.
type OutageStreak struct {
	// Failures is the length of the family's streak, this failure
	// included.
	Failures int
	// Hold is the family's outage hold when Held.
	Hold Hold
	Held bool
	// Placed is true when this failure placed the hold.
	Placed bool
}

// RecordTransient counts one transient failure of family (lastError
// explains it) and, when the streak reaches p.AfterFailures, places the
// family's outage hold with its first probe p.ProbeBase from now. It
// returns the streak and the hold, if any.
func (s *Store) RecordTransient(ctx context.Context, family, lastError string, p OutagePolicy) (OutageStreak, error) {
	var out OutageStreak
	err := s.InTx(ctx, func(_ pgx.Tx, st *Store) error {
		var since time.Time
		err := st.db.QueryRow(ctx, `
			insert into outage_streaks (family, failures, since, last_error) values ($1, 1, now(), $2)
			on conflict (family) do update
			set failures = outage_streaks.failures + 1,
			    since = coalesce(outage_streaks.since, now()),
			    last_error = excluded.last_error,
			    updated_at = now()
			returning failures, since`, family, lastError).Scan(&out.Failures, &since)
		if err != nil {
			return fmt.Errorf("record transient failure of %s: %w", family, err)
		}
		if out.Failures < max(p.AfterFailures, 1) {
			return nil
		}
		reason := fmt.Sprintf("%s: %d calls in a row got no answer; last: %s", family, out.Failures, lastError)
		h, placed, err := st.upsertOutageHold(ctx, family, reason, since, time.Now().Add(p.ProbeBase), false)
		out.Hold, out.Held, out.Placed = h, true, placed
		return err
	})
	return out, err
}

// HoldOutageUntil places the outage hold of family, or extends it to until
// (never shortening it): the endpoint asked us to wait (Retry-After) and
// every replica must.
func (s *Store) HoldOutageUntil(ctx context.Context, family, reason string, until time.Time) (placed bool, err error) {
	_, placed, err = s.upsertOutageHold(ctx, family, reason, time.Now(), until, true)
	return placed, err
}

// upsertOutageHold inserts the outage hold of family, or updates its reason
// (and, with extend, pushes its next probe to at least until).
func (s *Store) upsertOutageHold(ctx context.Context, family, reason string, since, until time.Time, extend bool) (Hold, bool, error) {
	var h Hold
	var inserted bool
	err := s.db.QueryRow(ctx, `
		insert into holds (name, reason, until, created_at) values ($1, $2, $3, $4)
		on conflict (name) do update
		set reason = excluded.reason,
		    until = case when $5 then greatest(holds.until, excluded.until) else holds.until end,
		    updated_at = now()
		returning name, reason, until, created_at, probes, (xmax = 0)`,
		OutageHold(family), reason, until, since, extend).Scan(&h.Name, &h.Reason, &h.Until, &h.Since, &h.Probes, &inserted)
	if err != nil {
		return Hold{}, false, fmt.Errorf("place outage hold %s: %w", family, err)
	}
	return h, inserted, nil
}

// BlockingHold returns the hold that keeps a job calling families from
// running, if any: a hold in force (such as refused credentials) or an
// outage hold of one of families, the one lasting longest first. An outage
// hold whose Until has passed is due for a probe (TakeProbe).
func (s *Store) BlockingHold(ctx context.Context, families []string) (Hold, bool, error) {
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = OutageHold(f)
	}
	rows, err := s.db.Query(ctx, `
		select name, reason, until, created_at, probes from holds
		where (name not like 'outage:%' and until > now()) or name = any($1)
		order by until desc limit 1`, names)
	if err != nil {
		return Hold{}, false, fmt.Errorf("read holds: %w", err)
	}
	h, err := pgx.CollectExactlyOneRow(rows, scanHold)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("read holds: %w", err)
	}
	return h, true, nil
}

// TakeProbe lets the caller send the one probe call of a due outage hold:
// when the hold is due, its next probe moves p.ProbeBase·2^probes (at most
// p.ProbeMax) ahead and TakeProbe returns true; when another caller took the
// probe first, it returns false and the hold's next probe time.
func (s *Store) TakeProbe(ctx context.Context, name string, p OutagePolicy) (bool, time.Time, error) {
	var until time.Time
	var took bool
	err := s.db.QueryRow(ctx, `
		with taken as (
		    update holds
		    set until = now() + make_interval(secs => least($3::float8, $2::float8 * power(2, least(probes, 30)))),
		        probes = probes + 1, updated_at = now()
		    where name = $1 and until <= now()
		    returning until
		)
		select until, true from taken
		union all
		select until, false from holds where name = $1 and not exists (select 1 from taken)`,
		name, p.ProbeBase.Seconds(), max(p.ProbeMax, p.ProbeBase).Seconds()).Scan(&until, &took)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, time.Time{}, nil // released meanwhile: nothing to wait for
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("take probe of %s: %w", name, err)
	}
	return took, until, nil
}

func scanHold(row pgx.CollectableRow) (Hold, error) {
	var h Hold
	err := row.Scan(&h.Name, &h.Reason, &h.Until, &h.Since, &h.Probes)
	return h, err
}
