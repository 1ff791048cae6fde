package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/pcupgrade/orchestrator/migrations"
)

// migrateLockKey is the advisory lock that serialises concurrent migrations
// of the same database (several pods starting at once). It is distinct from
// tern's own lock because River's migrator takes none.
const migrateLockKey = int64(0x6f7263682d6d6967) // "orch-mig"

// schemaVersionTable is tern's bookkeeping table for our own migrations.
const schemaVersionTable = "schema_version"

// MigrateResult says what a migration run changed.
type MigrateResult struct {
	SchemaFrom, SchemaTo int32
	RiverApplied         []int
}

// Migrate applies the orchestrator's migrations (tern, from package
// migrations) and River's (rivermigrate) to the database behind pool. It
// holds one session-level advisory lock for the whole run, so any number of
// processes may call it at once: one migrates, the others wait and then find
// nothing to do. Running it again is a no-op.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (res MigrateResult, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", migrateLockKey); err != nil {
		return res, fmt.Errorf("migrate: take advisory lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be cancelled, and a session lock
		// left behind would block every later migration on this connection.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), "select pg_advisory_unlock($1)", migrateLockKey); uerr != nil && err == nil {
			err = fmt.Errorf("migrate: release advisory lock: %w", uerr)
		}
	}()

	m, err := migrate.NewMigrator(ctx, conn.Conn(), schemaVersionTable)
	if err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(migrations.FS); err != nil {
		return res, fmt.Errorf("migrate: load migrations: %w", err)
	}
	if res.SchemaFrom, err = m.GetCurrentVersion(ctx); err != nil {
		return res, fmt.Errorf("migrate: read schema version: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return res, fmt.Errorf("migrate: orchestrator schema: %w", err)
	}
	if res.SchemaTo, err = m.GetCurrentVersion(ctx); err != nil {
		return res, fmt.Errorf("migrate: read schema version: %w", err)
	}

	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("migrate: river: %w", err)
	}
	// Not MigrateTx: River's migrations add enum values that one outer
	// transaction cannot use, so each version commits on its own. Our lock
	// still serialises concurrent runs.
	r, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("migrate: river schema: %w", err)
	}
	for _, v := range r.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}
	return res, nil
}
