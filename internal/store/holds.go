package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hold is a service-wide pause of all Partner Center work, such as after
// Partner Center refused our credentials.
type Hold struct {
	Name   string
	Reason string
	// Until is when the hold lapses; for an outage hold (IsOutage), which
	// lasts until an answer releases it, when its next probe is due.
	Until time.Time
	Since time.Time
	// Probes counts the probe calls sent under an outage hold.
	Probes int
}

// HoldAuth is the hold set when Partner Center refuses our credentials.
const HoldAuth = "auth"

// PlaceHold pauses all work until the given time (extending an existing
// hold of that name, never shortening it).
func (s *Store) PlaceHold(ctx context.Context, name, reason string, until time.Time) error {
	_, err := s.db.Exec(ctx, `
		insert into holds (name, reason, until) values ($1, $2, $3)
		on conflict (name) do update
		set reason = excluded.reason, until = greatest(holds.until, excluded.until), updated_at = now()`,
		name, reason, until)
	if err != nil {
		return fmt.Errorf("place hold %s: %w", name, err)
	}
	return nil
}

// ReleaseHold removes a hold; releasing a hold that is not there is a no-op.
func (s *Store) ReleaseHold(ctx context.Context, name string) error {
	if _, err := s.db.Exec(ctx, `delete from holds where name = $1`, name); err != nil {
		return fmt.Errorf("release hold %s: %w", name, err)
	}
	return nil
}

// Holds returns every hold, expired or not, for status output and metrics.
// A hold is in force while its Until is ahead, and an outage hold as long as
// it exists (see InForce).
func (s *Store) Holds(ctx context.Context) ([]Hold, error) {
	rows, err := s.db.Query(ctx, `select name, reason, until, created_at, probes from holds order by name`)
	if err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	return out, nil
}

// InForce reports whether h pauses work at now: an outage hold until it is
// released, any other hold until its Until.
func (h Hold) InForce(now time.Time) bool {
	return h.IsOutage() || h.Until.After(now)
}
