package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

// Pauses of per-customer buckets end; the process forgets them instead of
// keeping one for every customer ever throttled.
func TestExpiredPausesAreForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g, err := New(store.New(storetest.NewPool(t)), []Limit{
		{Name: "subs", Calls: 10, Per: time.Second, Scope: ScopeCustomer, Operations: []string{"transition_create"}},
	}, 1, 0.2)
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, g.Throttled(ctx, "transition_create", fmt.Sprintf("customer-%d", i), time.Millisecond))
	}
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, g.Throttled(ctx, "transition_create", "customer-last", time.Minute))
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Len(t, g.paused, 1, "only the pause still in force is kept")
}
