package jobs_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func productCSV(customers []string) []string {
	lines := []string{"customer_id"}
	return append(lines, customers...)
}

func TestPauseStopsAllCallsAndResumeFinishes(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.MinDuration, opts.MaxDuration = 2*time.Second, 3*time.Second
	w := newWorld(t, opts, nil)
	customers := guids(20, "pause")
	b := w.importCSV("pause", importer.Options{}, productCSV(customers)...)
	w.waitFor(b, 30*time.Second, "some items in progress", func(_ store.Batch, c map[upgrade.Status]int) bool {
		return c[upgrade.StatusInProgress] >= 3
	})

	res, err := w.ctl.Pause(context.Background(), b.Name)
	require.NoError(t, err)
	require.Equal(t, control.Result{Batch: b.Name, From: upgrade.BatchRunning, To: upgrade.BatchPaused}, res)
	_, err = w.ctl.Pause(context.Background(), b.Name)
	require.ErrorIs(t, err, control.ErrRefused, "pausing twice is refused")

	// Calls in flight finish; after that nothing is called for the batch,
	// though its upgrades finish at Partner Center meanwhile.
	time.Sleep(time.Second)
	before := w.callCount(b)
	time.Sleep(4 * time.Second)
	require.Equal(t, before, w.callCount(b), "no Partner Center call while paused")
	counts, err := w.st.StatusCounts(context.Background(), b.ID)
	require.NoError(t, err)
	require.Positive(t, counts[upgrade.StatusInProgress]+counts[upgrade.StatusPending], "work left for resume")

	res, err = w.ctl.Resume(context.Background(), b.Name)
	require.NoError(t, err)
	require.Equal(t, upgrade.BatchPaused, res.From)
	require.Positive(t, res.Items)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)
	for _, c := range customers {
		if w.sim.Predict(c).Eligible {
			require.Equal(t, 1, w.sim.CreatedCount(c))
		}
	}
}

func TestCanaryThenCancel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	customers := guids(20, "canary")
	b := w.importCSV("canary", importer.Options{CanarySize: 5}, productCSV(customers)...)
	require.Equal(t, upgrade.BatchCanary, b.Status)

	// The first five run; then the batch waits for an operator.
	counts := w.waitStatus(b, upgrade.BatchPaused, 60*time.Second)
	require.Equal(t, 15, counts[upgrade.StatusPending])
	cur, err := w.st.BatchByName(context.Background(), b.Name)
	require.NoError(t, err)
	require.Contains(t, cur.StatusReason, "canary finished")
	for i, c := range customers {
		if i >= 5 {
			require.Zero(t, w.sim.CreatedCount(c), "item %d ran before resume", i)
		}
	}

	res, err := w.ctl.Cancel(context.Background(), b.Name)
	require.NoError(t, err)
	require.Equal(t, 15, res.Items)
	counts, err = w.st.StatusCounts(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, 15, counts[upgrade.StatusCancelled])
	_, err = w.ctl.Resume(context.Background(), b.Name)
	require.ErrorIs(t, err, control.ErrRefused, "a cancelled batch cannot resume")
}

func TestCanaryResumeRunsTheRest(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	customers := guids(12, "canary-resume")
	b := w.importCSV("canary-resume", importer.Options{CanarySize: 4}, productCSV(customers)...)
	w.waitStatus(b, upgrade.BatchPaused, 60*time.Second)
	res, err := w.ctl.Resume(context.Background(), b.Name)
	require.NoError(t, err)
	require.Equal(t, 8, res.Items)
	counts := w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)
	require.Zero(t, counts[upgrade.StatusPending])
}

func TestDryRunChecksEligibilityOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	customers := guids(25, "dry")
	b := w.importCSV("dry", importer.Options{DryRun: true}, productCSV(customers)...)
	require.True(t, b.DryRun)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)
	got := byCustomer(w.rows(b))
	for _, c := range customers {
		want := upgrade.StatusEligible
		if !w.sim.Predict(c).Eligible {
			want = upgrade.StatusIneligible
		}
		require.Equal(t, want, got[c][0].Status, c)
		require.Zero(t, w.sim.CreatedCount(c), "a dry run creates nothing")
	}
	require.Zero(t, w.sim.Stats().Totals.Creates)
}

func TestRetryFailedOnlyRerunsFailedItems(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.IneligibleShare, opts.FailShare = 0, 0.4
	w := newWorld(t, opts, nil)
	customers := guids(20, "retry")
	b := w.importCSV("retry", importer.Options{}, productCSV(customers)...)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)

	codes := map[string]int{}
	var failed []string
	for _, c := range customers {
		if p := w.sim.Predict(c); p.Fails {
			codes[p.ErrorCode]++
			failed = append(failed, c)
		}
	}
	require.NotEmpty(t, failed)
	var code string
	for c := range codes {
		code = c
		break
	}

	// Only the failed items with that code run again, in generation 1.
	res, err := w.ctl.RetryFailed(context.Background(), b.Name, code)
	require.NoError(t, err)
	require.Equal(t, codes[code], res.Items)
	require.Equal(t, upgrade.BatchRunning, res.To)
	w.waitStatus(b, upgrade.BatchCompleted, 60*time.Second)
	for _, c := range customers {
		p := w.sim.Predict(c)
		want := 1
		if p.Fails && p.ErrorCode == code {
			want = 2 // Partner Center lets a failed upgrade be created again
		}
		require.Equal(t, want, w.sim.CreatedCount(c), "customer %s", c)
		ids, err := w.st.FindItems(context.Background(), b.ID, c, "")
		require.NoError(t, err)
		it, err := w.st.Item(context.Background(), ids[0])
		require.NoError(t, err)
		require.Equal(t, want-1, it.Generation)
		if want == 2 {
			// Linked to its earlier attempt: the history spans both
			// generations and the first upgrade is kept.
			earlier, err := w.st.EarlierUpgradeIDs(context.Background(), it.ID, it.Generation)
			require.NoError(t, err)
			require.Len(t, earlier, 1)
			hist, err := w.st.ItemHistory(context.Background(), it.ID)
			require.NoError(t, err)
			gens := map[int]bool{}
			for _, h := range hist {
				gens[h.Generation] = true
			}
			require.Equal(t, map[int]bool{0: true, 1: true}, gens)
		}
	}
}

func TestBatchHaltsWhenTooManyItemsFail(t *testing.T) {
	t.Parallel()
	customers := guids(40, "halt")
	opts := quickSim()
	opts.IneligibleShare = 0
	opts.Failing = customers[:32]
	w := newWorld(t, opts, func(c *config.Config) {
		c.Halt = config.Halt{FailureRate: 0.5, Window: time.Minute, MinItems: 6}
		c.Workers.MaxWorkers = 3
	})
	b := w.importCSV("halt", importer.Options{}, productCSV(customers)...)
	w.waitStatus(b, upgrade.BatchHalted, 60*time.Second)
	cur, err := w.st.BatchByName(context.Background(), b.Name)
	require.NoError(t, err)
	require.Contains(t, cur.StatusReason, "failed within")
	// The reason names the codes Partner Center reported for the failures.
	codes := map[string]bool{}
	rows, err := w.db.Query(context.Background(), `select distinct error_code from batch_items where batch_id = $1 and status = 'failed'`, b.ID)
	require.NoError(t, err)
	failedCodes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	for _, c := range failedCodes {
		codes[c] = true
	}
	m := regexp.MustCompile(`\(threshold 50%\): (\S+) ×\d+`).FindStringSubmatch(cur.StatusReason)
	require.NotNil(t, m, cur.StatusReason)
	require.True(t, codes[m[1]], "the most frequent code %q is a failed item's code (%v)", m[1], codes)

	// Nothing is called for the batch while halted.
	time.Sleep(time.Second)
	before := w.callCount(b)
	time.Sleep(2 * time.Second)
	require.Equal(t, before, w.callCount(b))
	counts, err := w.st.StatusCounts(context.Background(), b.ID)
	require.NoError(t, err)
	require.Positive(t, counts[upgrade.StatusPending]+counts[upgrade.StatusInProgress], "the rest of the batch waits")

	// The operator resumes once the cause is understood; the batch finishes.
	_, err = w.ctl.Resume(context.Background(), b.Name)
	require.NoError(t, err)
	w.waitFor(b, 60*time.Second, "all final or halted again", func(cur store.Batch, c map[upgrade.Status]int) bool {
		return cur.Status == upgrade.BatchCompleted || cur.Status == upgrade.BatchHalted
	})
}

func TestStuckItemsStopBeingPolled(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.IneligibleShare, opts.FailShare = 0, 0
	opts.MinDuration, opts.MaxDuration = time.Hour, time.Hour
	w := newWorld(t, opts, func(c *config.Config) { c.Polling.StuckAfter = 1500 * time.Millisecond })
	customers := guids(5, "stuck")
	b := w.importCSV("stuck", importer.Options{}, productCSV(customers)...)
	w.waitFor(b, 30*time.Second, "all stuck", func(cur store.Batch, _ map[upgrade.Status]int) bool {
		n, err := w.st.StuckCount(context.Background(), cur.ID)
		require.NoError(t, err)
		return n == len(customers)
	})
	time.Sleep(500 * time.Millisecond)
	before := w.sim.Stats().Calls["product_upgrade_status"]
	time.Sleep(2 * time.Second)
	require.Equal(t, before, w.sim.Stats().Calls["product_upgrade_status"], "stuck items are not polled")

	// Resume polls them again (and they are flagged again later).
	res, err := w.ctl.Resume(context.Background(), b.Name)
	require.NoError(t, err)
	require.Equal(t, len(customers), res.Items)
	n, err := w.st.StuckCount(context.Background(), b.ID)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRevokedCredentialsPauseAllWork(t *testing.T) {
	t.Parallel()
	w := newWorld(t, quickSim(), nil)
	w.sim.RevokeRefreshToken(w.cfg.PartnerCenter.RefreshToken)
	customers := guids(10, "auth")
	b := w.importCSV("auth", importer.Options{}, productCSV(customers)...)
	var hold store.Hold
	require.Eventually(t, func() bool {
		h, held, err := w.st.BlockingHold(context.Background(), nil)
		require.NoError(t, err)
		hold = h
		return held
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, store.HoldAuth, hold.Name)
	require.NotContains(t, hold.Reason, w.cfg.PartnerCenter.RefreshToken, "no secret in the reason")
	counts, err := w.st.StatusCounts(context.Background(), b.ID)
	require.NoError(t, err)
	require.Equal(t, len(customers), counts[upgrade.StatusPending], "items untouched")
	require.Zero(t, w.sim.Stats().Totals.Creates)
}
