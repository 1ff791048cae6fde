package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGate(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewGate()
	g.now = func() time.Time { return now }

	_, closed := g.Wait("create")
	require.False(t, closed)

	g.Pause("create", 30*time.Second)
	g.Pause("create", 10*time.Second) // a shorter wait never shortens a longer one
	d, closed := g.Wait("create")
	require.True(t, closed)
	require.Equal(t, 30*time.Second, d)
	_, closed = g.Wait("status")
	require.False(t, closed, "other operations stay open")

	now = now.Add(31 * time.Second)
	_, closed = g.Wait("create")
	require.False(t, closed)
}
