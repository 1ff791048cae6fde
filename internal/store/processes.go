package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrDeclaredDead is returned by Beat when another process declared this
// one dead (it stopped beating for longer than workers.dead_after) or its
// row is gone: its jobs were handed to others and it must stop working.
var ErrDeclaredDead = errors.New("process declared dead by another replica")

// processRetention is how long rows of processes that stopped or were
// declared dead are kept, for looking back at what happened.
const processRetention = 7 * 24 * time.Hour

// RegisterProcess records a starting process with its first heartbeat. id
// is the name it uses in item leases, api_calls and as River's client id.
func (s *Store) RegisterProcess(ctx context.Context, id, host string, pid int) error {
	_, err := s.db.Exec(ctx, `
		insert into processes (id, host, pid) values ($1, $2, $3)
		on conflict (id) do update set host = excluded.host, pid = excluded.pid, started_at = now(), beat_at = now(),
		    stopped_at = null, dead_at = null, declared_by = '', jobs_handed_back = 0`, id, host, pid)
	if err != nil {
		return fmt.Errorf("register process %s: %w", id, err)
	}
	return nil
}

// Beat records that process id is alive. It returns ErrDeclaredDead when
// another process has declared it dead, or its row is gone.
func (s *Store) Beat(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `
		update processes set beat_at = now()
		where id = $1 and dead_at is null and stopped_at is null`, id)
	if err != nil {
		return fmt.Errorf("heartbeat of process %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("process %s: %w", id, ErrDeclaredDead)
	}
	return nil
}

// StopProcess records that process id stopped cleanly: nobody needs to
// declare it dead.
func (s *Store) StopProcess(ctx context.Context, id string) error {
	if _, err := s.db.Exec(ctx, `update processes set stopped_at = now() where id = $1 and dead_at is null`, id); err != nil {
		return fmt.Errorf("record stop of process %s: %w", id, err)
	}
	return nil
}

// DeadProcess is a process DeclareDead found dead and cleaned up after.
type DeadProcess struct {
	ID     string
	BeatAt time.Time // its last heartbeat
	// JobsHandedBack counts the River jobs it was running that were made
	// available again, and LeasesReleased the item leases it held.
	JobsHandedBack int64
	LeasesReleased int64
}

// DeclareDead finds every process other than declarer that has not beaten
// for deadAfter (by the database's clock) and, for each, in one
// transaction: marks it dead, hands the River jobs it was running (state
// running, last attempted by it) back to the queue as available now,
// without counting the interrupted attempt, and releases its item leases,
// moving each lease's epoch on. Processes another replica is handling at
// the same moment are skipped (row locks), so each dead process is handled
// once. It also forgets processes that stopped or died long ago.
func (s *Store) DeclareDead(ctx context.Context, declarer string, deadAfter time.Duration) ([]DeadProcess, error) {
	var dead []DeadProcess
	err := s.InTx(ctx, func(tx pgx.Tx, _ *Store) error {
		rows, err := tx.Query(ctx, `
			select id, beat_at from processes
			where dead_at is null and stopped_at is null and id <> $1
			  and beat_at < now() - make_interval(secs => $2)
			order by beat_at
			for update skip locked`, declarer, deadAfter.Seconds())
		if err != nil {
			return err
		}
		for rows.Next() {
			var p DeadProcess
			if err := rows.Scan(&p.ID, &p.BeatAt); err != nil {
				rows.Close()
				return err
			}
			dead = append(dead, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range dead {
			p := &dead[i]
			tag, err := tx.Exec(ctx, `
				update river_job
				set state = 'available', attempt = greatest(attempt - 1, 0), scheduled_at = now(),
				    metadata = metadata || jsonb_build_object('handed_back_from', $1::text, 'handed_back_at', now())
				where state = 'running' and attempted_by[cardinality(attempted_by)] = $1`, p.ID)
			if err != nil {
				return fmt.Errorf("hand back jobs: %w", err)
			}
			p.JobsHandedBack = tag.RowsAffected()
			tag, err = tx.Exec(ctx, `
				update batch_items set lease_owner = '', lease_until = null, lease_epoch = lease_epoch + 1
				where lease_owner = $1`, p.ID)
			if err != nil {
				return fmt.Errorf("release leases: %w", err)
			}
			p.LeasesReleased = tag.RowsAffected()
			if _, err := tx.Exec(ctx, `
				update processes set dead_at = now(), declared_by = $2, jobs_handed_back = $3 where id = $1`,
				p.ID, declarer, p.JobsHandedBack); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `delete from processes where coalesce(dead_at, stopped_at) < now() - make_interval(secs => $1)`,
			processRetention.Seconds())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("declare dead processes: %w", err)
	}
	return dead, nil
}

// Process is one row of the processes table.
type Process struct {
	ID             string
	Host           string
	PID            int
	StartedAt      time.Time
	BeatAt         time.Time
	StoppedAt      *time.Time
	DeadAt         *time.Time
	DeclaredBy     string
	JobsHandedBack int
}

// Processes returns every recorded process, the most recently started
// first.
func (s *Store) Processes(ctx context.Context) ([]Process, error) {
	rows, err := s.db.Query(ctx, `
		select id, host, pid, started_at, beat_at, stopped_at, dead_at, declared_by, jobs_handed_back
		from processes order by started_at desc, id`)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Process, error) {
		var p Process
		err := r.Scan(&p.ID, &p.Host, &p.PID, &p.StartedAt, &p.BeatAt, &p.StoppedAt, &p.DeadAt, &p.DeclaredBy, &p.JobsHandedBack)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	return ps, nil
}
