package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

type handbackArgs struct {
	N int `json:"n"`
}

func (handbackArgs) Kind() string { return "handback_test" }

// A process that stopped beating is declared dead by a live one: exactly
// the River jobs it was running come back as available without the
// interrupted attempt, its item leases are released, and from then on it
// cannot pass the fence: not with the lease it held (calls, status
// changes), not by claiming again, and its next beat tells it to stop.
func TestDeadProcessJobsHandedBackAndItsLeasesFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	_, ids := newBatch(t, st, "handback", 3)
	const dead, live = "node-a-1-aaaaaa", "node-b-1-bbbbbb"
	require.NoError(t, st.RegisterProcess(ctx, dead, "node-a", 1))
	require.NoError(t, st.RegisterProcess(ctx, live, "node-b", 1))

	// Jobs as River's fetch leaves them: running in the dead process (two),
	// running in the live one after an earlier attempt by the dead one,
	// and snoozed (scheduled) after running in the dead one.
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	jobID := make([]int64, 4)
	for i := range jobID {
		res, err := rc.Insert(ctx, handbackArgs{N: i}, &river.InsertOpts{MaxAttempts: 5})
		require.NoError(t, err)
		jobID[i] = res.Job.ID
	}
	fetch := func(id int64, by string) {
		_, err := pool.Exec(ctx, `
			update river_job set state = 'running', attempt = attempt + 1, attempted_at = now(),
			    attempted_by = array_append(attempted_by, $2::text)
			where id = $1`, id, by)
		require.NoError(t, err)
	}
	fetch(jobID[0], dead)
	fetch(jobID[1], dead)
	fetch(jobID[1], dead) // its second attempt
	fetch(jobID[2], dead)
	fetch(jobID[2], live)
	fetch(jobID[3], dead)
	_, err = pool.Exec(ctx, `update river_job set state = 'scheduled', scheduled_at = now() + interval '1 hour' where id = $1`, jobID[3])
	require.NoError(t, err)

	// The dead process holds leases on two items, the live one on the third.
	leaseA, won, err := st.ClaimItem(ctx, ids[0], dead, time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	_, won, err = st.ClaimItem(ctx, ids[1], dead, time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	_, won, err = st.ClaimItem(ctx, ids[2], live, time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	_, won, err = st.ClaimItem(ctx, ids[0], live, time.Hour)
	require.NoError(t, err)
	require.False(t, won, "a live lease keeps others off the item")

	// Nobody is dead while both beat.
	got, err := st.DeclareDead(ctx, live, time.Second)
	require.NoError(t, err)
	require.Empty(t, got)

	// The dead process falls silent; the live one keeps beating.
	_, err = pool.Exec(ctx, `update processes set beat_at = now() - interval '31 seconds' where id = $1`, dead)
	require.NoError(t, err)
	require.NoError(t, st.Beat(ctx, live))
	got, err = st.DeclareDead(ctx, live, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, dead, got[0].ID)
	require.EqualValues(t, 2, got[0].JobsHandedBack)
	require.EqualValues(t, 2, got[0].LeasesReleased)

	type jobRow struct {
		state    string
		attempt  int
		from     string
		schedAgo time.Duration
	}
	job := func(id int64) jobRow {
		var r jobRow
		var ago float64
		require.NoError(t, pool.QueryRow(ctx, `
			select state::text, attempt, coalesce(metadata->>'handed_back_from', ''), extract(epoch from now() - scheduled_at)
			from river_job where id = $1`, id).Scan(&r.state, &r.attempt, &r.from, &ago))
		r.schedAgo = time.Duration(ago * float64(time.Second))
		return r
	}
	for i, want := range []jobRow{
		{state: "available", attempt: 0, from: dead},
		{state: "available", attempt: 1, from: dead},
		{state: "running", attempt: 2},
		{state: "scheduled", attempt: 1},
	} {
		g := job(jobID[i])
		require.Equal(t, want.state, g.state, "job %d", i)
		require.Equal(t, want.attempt, g.attempt, "job %d: the interrupted attempt is not counted", i)
		require.Equal(t, want.from, g.from, "job %d", i)
		if want.state == "available" {
			require.Less(t, g.schedAgo, 5*time.Second, "job %d is runnable now", i)
		}
	}

	// Fencing: the late process cannot use the lease it held.
	err = st.CheckLease(ctx, ids[0], leaseA, time.Hour)
	require.ErrorIs(t, err, store.ErrLeaseLost)
	err = st.TransitionItem(ctx, ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusIneligible, Lease: leaseA})
	require.ErrorIs(t, err, store.ErrLeaseLost)
	it, err := st.Item(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, upgrade.StatusPending, it.Status, "a fenced change changed nothing")
	// ... nor claim again, although the lease is free now.
	_, won, err = st.ClaimItem(ctx, ids[0], dead, time.Hour)
	require.NoError(t, err)
	require.False(t, won, "a process declared dead claims nothing")
	// ... and its next beat tells it to stop.
	require.ErrorIs(t, st.Beat(ctx, dead), store.ErrDeclaredDead)

	// A live process takes the item over with a newer epoch, and its
	// fenced writes pass.
	leaseB, won, err := st.ClaimItem(ctx, ids[0], live, time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	require.Greater(t, leaseB.Epoch, leaseA.Epoch)
	require.NoError(t, st.CheckLease(ctx, ids[0], leaseB, time.Hour))
	require.NoError(t, st.TransitionItem(ctx, ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusIneligible, Lease: leaseB}))

	// The live process's own lease was left alone.
	var owner string
	require.NoError(t, pool.QueryRow(ctx, `select lease_owner from batch_items where id = $1`, ids[2]).Scan(&owner))
	require.Equal(t, live, owner)

	// Declared once: a second look finds nothing more to do.
	got, err = st.DeclareDead(ctx, live, 30*time.Second)
	require.NoError(t, err)
	require.Empty(t, got)
	ps, err := st.Processes(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	for _, p := range ps {
		if p.ID == dead {
			require.NotNil(t, p.DeadAt)
			require.Equal(t, live, p.DeclaredBy)
			require.Equal(t, 2, p.JobsHandedBack)
		} else {
			require.Nil(t, p.DeadAt)
		}
	}
}

// Two jobs of one process on one item: the later claim moves the epoch on,
// so the earlier job's lease no longer passes and its release leaves the
// later one's lease in place. A process that stopped cleanly is never
// declared dead.
func TestLeaseEpochFencesAnEarlierClaimOfTheSameProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	st := store.New(pool)
	_, ids := newBatch(t, st, "epoch", 1)
	first, won, err := st.ClaimItem(ctx, ids[0], "p1", time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	second, won, err := st.ClaimItem(ctx, ids[0], "p1", time.Hour)
	require.NoError(t, err)
	require.True(t, won)
	require.ErrorIs(t, st.CheckLease(ctx, ids[0], first, time.Hour), store.ErrLeaseLost)
	require.NoError(t, st.ReleaseItem(ctx, ids[0], first))
	require.NoError(t, st.CheckLease(ctx, ids[0], second, time.Hour), "the earlier job's release left the lease alone")
	require.NoError(t, st.ReleaseItem(ctx, ids[0], second))
	var owner string
	require.NoError(t, pool.QueryRow(ctx, `select lease_owner from batch_items where id = $1`, ids[0]).Scan(&owner))
	require.Empty(t, owner)

	require.NoError(t, st.RegisterProcess(ctx, "gone", "h", 2))
	require.NoError(t, st.StopProcess(ctx, "gone"))
	_, err = pool.Exec(ctx, `update processes set beat_at = now() - interval '1 hour'`)
	require.NoError(t, err)
	got, err := st.DeclareDead(ctx, "p1", time.Second)
	require.NoError(t, err)
	require.Empty(t, got, "a clean stop is not a death")
	err = st.Beat(ctx, "gone")
	require.True(t, errors.Is(err, store.ErrDeclaredDead), "a stopped process does not beat again: %v", err)
}
