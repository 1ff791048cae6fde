package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Secret returns the encrypted value stored under name, or ErrNotFound.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRow(ctx, `select ciphertext from secrets where name = $1`, name).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %q: %w", name, err)
	}
	return b, nil
}

// SaveSecret stores an encrypted value under name, replacing any other.
func (s *Store) SaveSecret(ctx context.Context, name string, ciphertext []byte) error {
	_, err := s.db.Exec(ctx, `
		insert into secrets (name, ciphertext) values ($1, $2)
		on conflict (name) do update set ciphertext = excluded.ciphertext, updated_at = now()`,
		name, ciphertext)
	if err != nil {
		return fmt.Errorf("save secret %q: %w", name, err)
	}
	return nil
}
