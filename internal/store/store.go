// Package store holds all of the orchestrator's SQL. It reads and writes the
// batch ledger (batches, items, upgrades, line items, API calls) in
// PostgreSQL through pgx; no other package issues queries of its own.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// DB is what the store needs from a connection: a *pgxpool.Pool or a pgx.Tx.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store reads and writes the ledger through one DB.
type Store struct {
	db DB
}

// New returns a Store on db.
func New(db DB) *Store {
	return &Store{db: db}
}

// InTx runs fn inside a transaction (a savepoint when the Store is already
// bound to one). fn receives the transaction, for River's InsertTx and
// JobCompleteTx, and a Store bound to it. The transaction commits when fn
// returns nil and rolls back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx, st *Store) error) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := fn(tx, New(tx)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}
