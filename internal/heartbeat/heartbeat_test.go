package heartbeat_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/heartbeat"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

func TestInterval(t *testing.T) {
	t.Parallel()
	require.Equal(t, 5*time.Second, heartbeat.Interval(30*time.Second))
	require.Equal(t, 5*time.Second, heartbeat.Interval(10*time.Minute))
	require.Equal(t, time.Second, heartbeat.Interval(6*time.Second))
	require.Equal(t, 100*time.Millisecond, heartbeat.Interval(300*time.Millisecond))
}

// A process that keeps beating declares a silent one dead once, tells its
// observer, and the silent one learns it was declared dead on its next
// beat and may call nothing from then on.
func TestSilentProcessIsDeclaredDeadAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	const deadAfter = time.Second
	logger := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var declared []store.DeadProcess
	live := heartbeat.New(st, "live-1-aaaaaa", deadAfter, logger, func(d []store.DeadProcess) {
		mu.Lock()
		defer mu.Unlock()
		declared = append(declared, d...)
	})
	silent := heartbeat.New(st, "silent-2-bbbbbb", deadAfter, logger, nil)
	require.Error(t, silent.Alive(), "not alive before registering")
	require.NoError(t, live.Register(ctx))
	require.NoError(t, silent.Register(ctx))
	require.NoError(t, silent.Alive())

	// live beats every 100 ms; silent never again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		require.NoError(t, live.Tick(ctx))
		require.NoError(t, live.Alive())
		mu.Lock()
		n := len(declared)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	require.Len(t, declared, 1)
	require.Equal(t, "silent-2-bbbbbb", declared[0].ID)
	mu.Unlock()
	require.GreaterOrEqual(t, time.Since(declared[0].BeatAt), deadAfter, "declared only after dead_after")

	// The silent process's own clock already stopped it from calling
	// (no beat for dead_after/2), and its next beat stops it for good.
	require.ErrorIs(t, silent.Alive(), heartbeat.ErrNotAlive)
	require.ErrorIs(t, silent.Tick(ctx), store.ErrDeclaredDead)
	require.ErrorIs(t, silent.Alive(), heartbeat.ErrNotAlive)
	require.ErrorIs(t, silent.Run(ctx), store.ErrDeclaredDead, "Run returns at the first beat")

	// A clean stop leaves nothing to declare.
	require.NoError(t, live.Stop(ctx))
	ps, err := st.Processes(ctx)
	require.NoError(t, err)
	for _, p := range ps {
		if p.ID == "live-1-aaaaaa" {
			require.NotNil(t, p.StoppedAt)
			require.Nil(t, p.DeadAt)
		}
	}
}

// After a gap in its own beats (the database was unreachable, say),
// a process declares nobody dead until it has beaten steadily for
// dead_after again: the others could not beat either.
func TestNoDeclarationsRightAfterAGapInOwnBeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	const deadAfter = time.Second
	logger := slog.New(slog.DiscardHandler)
	var declared int
	me := heartbeat.New(st, "me-1-aaaaaa", deadAfter, logger, func(d []store.DeadProcess) { declared += len(d) })
	other := heartbeat.New(st, "other-2-bbbbbb", deadAfter, logger, nil)
	require.NoError(t, me.Register(ctx))
	require.NoError(t, other.Register(ctx))

	time.Sleep(1200 * time.Millisecond) // nobody beats: a gap longer than dead_after/2
	require.ErrorIs(t, me.Alive(), heartbeat.ErrNotAlive, "no calls while the own beat is old")
	require.NoError(t, me.Tick(ctx))
	require.NoError(t, me.Alive())
	require.Zero(t, declared, "other looks silent, but so was this process")

	// other comes back within dead_after of the gap's end: never declared.
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, other.Tick(ctx))
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, me.Tick(ctx))
		require.NoError(t, other.Tick(ctx))
	}
	require.Zero(t, declared)
	require.NoError(t, other.Alive())
}
