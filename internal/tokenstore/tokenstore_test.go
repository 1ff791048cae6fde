package tokenstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/tokenstore"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, tokenstore.KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestRoundTripSharedByReplicasAndEncrypted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	key := newKey(t)

	a, err := tokenstore.New(st, key, "tenant", "app")
	require.NoError(t, err)
	b, err := tokenstore.New(st, key, "tenant", "app") // another replica
	require.NoError(t, err)

	got, err := a.Load(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "nothing saved yet")

	require.NoError(t, a.Save(ctx, "refresh-token-rotated-2"))
	got, err = b.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, "refresh-token-rotated-2", got)

	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, `select ciphertext from secrets`).Scan(&raw))
	require.False(t, bytes.Contains(raw, []byte("refresh-token-rotated-2")), "stored encrypted")

	other, err := tokenstore.New(st, newKey(t), "tenant", "app")
	require.NoError(t, err)
	_, err = other.Load(ctx)
	require.ErrorContains(t, err, "wrong encryption key")

	elsewhere, err := tokenstore.New(st, key, "tenant", "other-app")
	require.NoError(t, err)
	got, err = elsewhere.Load(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "tokens are per tenant and application")
}

func TestParseKey(t *testing.T) {
	t.Parallel()

	k := newKey(t)
	got, err := tokenstore.ParseKey(base64.StdEncoding.EncodeToString(k))
	require.NoError(t, err)
	require.Equal(t, k, got)

	_, err = tokenstore.ParseKey(base64.StdEncoding.EncodeToString(k[:16]))
	require.ErrorContains(t, err, "16 bytes, want 32")
	_, err = tokenstore.ParseKey("not base64 !!")
	require.ErrorContains(t, err, "not valid base64")
	require.NotContains(t, err.Error(), "not base64 !!")
}
