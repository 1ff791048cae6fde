// Package tokenstore keeps Partner Center's rotating refresh token in
// PostgreSQL, encrypted with AES-256-GCM under a key from the environment, so
// that every replica, and every restart, uses the newest token.
package tokenstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// ParseKey decodes a base64 key of KeySize bytes, such as the output of
// `openssl rand -base64 32`. Errors never echo the key.
func ParseKey(encoded string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errors.New("token encryption key: not valid base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("token encryption key: %d bytes, want %d (generate one with `openssl rand -base64 32`)", len(key), KeySize)
	}
	return key, nil
}

// SecretStore is where the ciphertext lives; *store.Store implements it.
type SecretStore interface {
	Secret(ctx context.Context, name string) ([]byte, error)
	SaveSecret(ctx context.Context, name string, ciphertext []byte) error
}

// Store loads and saves one refresh token, for one partner tenant and
// application.
type Store struct {
	secrets SecretStore
	aead    cipher.AEAD
	name    string
}

// New returns a Store for the refresh token of (tenantID, clientID).
func New(secrets SecretStore, key []byte, tenantID, clientID string) (*Store, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.New("token encryption key: invalid AES key")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token encryption: %w", err)
	}
	return &Store{secrets: secrets, aead: aead, name: "partner_center_refresh_token/" + tenantID + "/" + clientID}, nil
}

// Load returns the newest refresh token, or "" when none has been saved.
// The name is bound into the ciphertext, so a token saved for another
// tenant or application cannot be swapped in.
func (s *Store) Load(ctx context.Context) (string, error) {
	b, err := s.secrets.Secret(ctx, s.name)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	n := s.aead.NonceSize()
	if len(b) < n {
		return "", errors.New("stored refresh token: ciphertext too short")
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(s.name))
	if err != nil {
		return "", errors.New("stored refresh token: cannot decrypt (wrong encryption key?)")
	}
	return string(plain), nil
}

// Save encrypts and stores token as the newest refresh token.
func (s *Store) Save(ctx context.Context, token string) error {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("refresh token: %w", err)
	}
	return s.secrets.SaveSecret(ctx, s.name, s.aead.Seal(nonce, nonce, []byte(token), []byte(s.name)))
}
