package jobs_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// A process paused in the middle of a job (here: right before a Partner
// Center call) while another replica declared it dead and handed its work
// back cannot make the call when it wakes up: the fence finds its item
// lease gone. The job makes no call and no status change, and snoozes.
func TestLateProcessCannotPassTheFence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// pauseBefore is the number of the call (1 eligibility, 2 create)
		// before which the process is paused and declared dead.
		pauseBefore int
		wantCalls   []string
	}{
		{name: "paused before the eligibility check", pauseBefore: 1, wantCalls: nil},
		{name: "paused between eligibility and create", pauseBefore: 2, wantCalls: []string{"eligibility"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var calls []string
			b := setupHandler(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if strings.HasSuffix(r.URL.Path, "/eligibility") {
					calls = append(calls, "eligibility")
					_, _ = w.Write([]byte(`{"customerId":"c1958bc7-3284-4952-a257-de594ee64743","productFamily":"Azure","isEligible":true}`))
					return
				}
				calls = append(calls, "create")
				w.Header().Set("Location", "productUpgrades/42d075a4-bfe7-43e7-af6d-7c68a57edcb4")
				w.WriteHeader(http.StatusAccepted)
			})
			const late, live = "late-host-7-aaaaaa", "live-host-8-bbbbbb"
			require.NoError(t, b.st.RegisterProcess(ctx, late, "late-host", 7))
			require.NoError(t, b.st.RegisterProcess(ctx, live, "live-host", 8))
			b.deps.Worker = late
			var fences atomic.Int32
			b.deps.Alive = func() error {
				if int(fences.Add(1)) == tc.pauseBefore {
					// The pause: the process stops beating, and the live
					// replica declares it dead meanwhile. The process itself
					// has not noticed (its own clock says it beat recently).
					_, err := b.pool.Exec(ctx, `update processes set beat_at = now() - interval '1 minute' where id = $1`, late)
					require.NoError(t, err)
					dead, err := b.st.DeclareDead(ctx, live, 30*time.Second)
					require.NoError(t, err)
					require.Len(t, dead, 1)
					require.EqualValues(t, 1, dead[0].LeasesReleased)
				}
				return nil
			}

			res, err := b.work(t, 5)
			require.NoError(t, err)
			require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "the late job snoozes")
			require.Equal(t, tc.wantCalls, calls, "no call after the pause")
			it := b.item(t)
			require.Equal(t, upgrade.StatusPending, it.Status)
			require.False(t, it.CreateUnknown, "no create was even marked as sent")

			var owner string
			require.NoError(t, b.pool.QueryRow(ctx, `select lease_owner from batch_items where id = $1`, b.itemID).Scan(&owner))
			require.Empty(t, owner, "the late job did not take the lease back")

			// The live replica works the item (a client in the context: the
			// create job queues the first poll).
			b.deps.Worker, b.deps.Alive = live, nil
			client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
			require.NoError(t, err)
			w := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, jobs.NewCreateUpgradeWorker(b.deps))
			tx, err := b.pool.Begin(ctx)
			require.NoError(t, err)
			res, err = w.Work(rivertest.WorkContext(ctx, client), t, tx, jobs.CreateUpgradeArgs{ItemID: b.itemID}, nil)
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))
			require.Equal(t, river.EventKindJobCompleted, res.EventKind)
			require.Equal(t, upgrade.StatusInProgress, b.item(t).Status)
			require.Equal(t, "create", calls[len(calls)-1])
		})
	}
}
