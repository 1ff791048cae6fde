package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/importer"
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
