package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hold is a service-wide pause of all Partner Center work, such as after
// Partner Center refused our credentials.
type Hold struct {
	Name   string
	Reason string
	Until  time.Time
	Since  time.Time
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

// ActiveHold returns the hold in force now that lasts longest, if any.
func (s *Store) ActiveHold(ctx context.Context) (Hold, bool, error) {
	var h Hold
	err := s.db.QueryRow(ctx, `
		select name, reason, until, created_at from holds
		where until > now() order by until desc limit 1`).Scan(&h.Name, &h.Reason, &h.Until, &h.Since)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("read holds: %w", err)
	}
	return h, true, nil
}

// Holds returns every hold, expired or not, for status output and metrics.
func (s *Store) Holds(ctx context.Context) ([]Hold, error) {
	rows, err := s.db.Query(ctx, `select name, reason, until, created_at from holds order by name`)
	if err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		if err := rows.Scan(&h.Name, &h.Reason, &h.Until, &h.Since); err != nil {
			return nil, fmt.Errorf("read holds: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}
