package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestImportQueuesADispatchRightAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t, quickSim(), func(c *config.Config) { c.Workers.DispatchInterval = time.Hour })
	// The dispatcher's run at start is the last periodic one in this test.
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, w.db.QueryRow(ctx, `select count(*) from river_job where kind = 'dispatch' and state = 'completed'`).Scan(&n))
		return n > 0
	}, 30*time.Second, 50*time.Millisecond, "dispatcher ran at start")

	quiet := w.importCSV("quiet", importer.Options{}, productCSV(guids(3, "quiet"))...)
	time.Sleep(2 * time.Second)
	counts, err := w.st.StatusCounts(ctx, quiet.ID)
	require.NoError(t, err)
	require.Equal(t, 3, counts[upgrade.StatusPending], "without a kick the batch waits for the next periodic run")

	kicked := w.importCSV("kicked", importer.Options{Queued: w.enq.QueueDispatch}, productCSV(guids(3, "kicked"))...)
	w.waitStatus(kicked, upgrade.BatchCompleted, 30*time.Second)
	w.waitStatus(quiet, upgrade.BatchCompleted, 30*time.Second)
}

// A first poll due later than River's scheduler runs is inserted for its
// time, not run at once only to snooze; a sooner one runs now and snoozes
// (see firstPoll).
func TestLateFirstPollsAreScheduledForTheirTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), func(c *config.Config) {
		c.Polling.InitialInterval = time.Minute
		c.Polling.MaxInterval = 10 * time.Minute
	})
	ctx := context.Background()
	lines := []string{"customer_id,product_family"}
	for _, c := range guids(20, "late-first-poll") {
		lines = append(lines, c+",Azure")
	}
	b := w.importCSV("late", importer.Options{}, lines...)
	w.waitFor(b, 20*time.Second, "an item in progress", func(_ store.Batch, counts map[upgrade.Status]int) bool {
		return counts[upgrade.StatusInProgress] > 0
	})
	time.Sleep(time.Second) // a job inserted to run now would have run and snoozed

	var scheduled, early, snoozed int
	require.NoError(t, w.db.QueryRow(ctx, `
		select count(*) filter (where state = 'scheduled'),
		       count(*) filter (where scheduled_at < now() + interval '30 seconds'),
		       count(*) filter (where metadata ? 'snoozes')
		from river_job where kind = 'poll_upgrade_status'`).Scan(&scheduled, &early, &snoozed))
	require.Positive(t, scheduled)
	require.Zero(t, early, "every first poll is due about a minute after its create")
	require.Zero(t, snoozed, "no first poll ran before its time")
}
