package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func statusOf(counts map[upgrade.Status]int, p store.Progress) report.Status {
	total := 0
	for _, n := range counts {
		total += n
	}
	b := store.Batch{Name: "b1", Operation: upgrade.ProductUpgrade, Status: upgrade.BatchRunning, ItemCount: total}
	return report.NewStatus(b, counts, 0, nil).WithProgress(p)
}

func TestStatusJSONKeepsTheContractAndAddsProgress(t *testing.T) {
	t.Parallel()
	oldest := 150 * time.Second
	s := statusOf(map[upgrade.Status]int{upgrade.StatusPending: 90, upgrade.StatusInProgress: 10, upgrade.StatusCompleted: 40, upgrade.StatusFailed: 10},
		store.Progress{SettledShort: 50, SettledLong: 120, OldestInProgress: &oldest,
			TopErrors: []store.ErrorCount{{Code: "800002", Count: 7}, {Code: "900329", Count: 3}}})
	var buf bytes.Buffer
	require.NoError(t, s.WriteJSON(&buf))
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m), buf.String())
	for _, k := range []string{"batch", "total", "counts", "done", "operation", "state", "stuck", "created_at"} {
		require.Contains(t, m, k)
	}
	require.Equal(t, 10.0, m["throughput_per_minute_5m"])
	require.Equal(t, 8.0, m["throughput_per_minute_15m"])
	require.Equal(t, 600.0, m["eta_seconds"], "100 open items at 10 a minute")
	require.Equal(t, 150.0, m["oldest_in_progress_seconds"])
	require.Equal(t, []any{map[string]any{"code": "800002", "count": 7.0}, map[string]any{"code": "900329", "count": 3.0}}, m["top_errors"])

	buf.Reset()
	require.NoError(t, s.WriteTable(&buf))
	out := buf.String()
	for _, want := range []string{"10.0 items/min over the last 5 minutes, 8.0 over the last 15", "10m00s (100 open item(s)", "2m30s", "800002", "ERROR CODE"} {
		require.Contains(t, out, want)
	}
}

func TestStatusETAIsUnknownWithoutThroughputAndNullInJSON(t *testing.T) {
	t.Parallel()
	s := statusOf(map[upgrade.Status]int{upgrade.StatusPending: 5}, store.Progress{})
	require.Nil(t, s.ETASeconds)
	var buf bytes.Buffer
	require.NoError(t, s.WriteJSON(&buf))
	require.Contains(t, buf.String(), `"eta_seconds": null`)
	require.Contains(t, buf.String(), `"oldest_in_progress_seconds": null`)
	require.Contains(t, buf.String(), `"top_errors": []`)
	buf.Reset()
	require.NoError(t, s.WriteTable(&buf))
	require.Contains(t, buf.String(), "unknown")

	done := statusOf(map[upgrade.Status]int{upgrade.StatusCompleted: 5}, store.Progress{})
	require.NotNil(t, done.ETASeconds)
	require.Zero(t, *done.ETASeconds)
}

func TestSummariesTable(t *testing.T) {
	t.Parallel()
	list := []report.Summary{
		report.NewSummary(store.BatchProgress{Batch: store.Batch{Name: "wave-2", Operation: upgrade.Transition, Status: upgrade.BatchRunning, ItemCount: 1000},
			Open: 250, SettledShort: 25, SettledLong: 60}),
		report.NewSummary(store.BatchProgress{Batch: store.Batch{Name: "wave-1", Operation: upgrade.ProductUpgrade, Status: upgrade.BatchPaused, ItemCount: 3},
			Open: 1}),
		report.NewSummary(store.BatchProgress{Batch: store.Batch{Name: "old", Operation: upgrade.ProductUpgrade, Status: upgrade.BatchCompleted, ItemCount: 3},
			Attention: 2}),
	}
	require.Equal(t, 75.0, list[0].DonePercent)
	require.Equal(t, int64(5*60*10), *list[0].ETASeconds, "250 open at 5 a minute")
	require.Nil(t, list[1].ETASeconds)
	require.Equal(t, 66.6, list[1].DonePercent)
	var buf bytes.Buffer
	require.NoError(t, report.WriteSummariesTable(&buf, list))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 4)
	require.Regexp(t, `^BATCH\s+OPERATION\s+STATE\s+TOTAL\s+DONE\s+ATTENTION\s+THROUGHPUT\s+ETA$`, lines[0])
	require.Regexp(t, `^wave-2\s+transition\s+running\s+1000\s+75\.0%\s+0\s+5\.0/min\s+50m00s$`, lines[1])
	require.Regexp(t, `^wave-1\s+product_upgrade\s+paused\s+3\s+66\.6%\s+0\s+0\.0/min\s+unknown$`, lines[2])
	require.Regexp(t, `^old\s+product_upgrade\s+completed\s+3\s+100\.0%\s+2\s+0\.0/min\s+done$`, lines[3])
	require.Equal(t, 2, list[2].Attention)
}

// countingSource is a StatusSource that serves fixed counts per batch and
// records what it is asked.
type countingSource struct {
	counts    map[int64]map[upgrade.Status]int
	holds     int
	stuck     []int64
	attention []int64
	topErrors map[int64]int
}

func (c *countingSource) AttentionCount(_ context.Context, batchID int64) (int, error) {
	c.attention = append(c.attention, batchID)
	if batchID == 1 {
		return 2, nil // two completed items need a person
	}
	return 0, nil
}

func (c *countingSource) StatusCounts(_ context.Context, batchID int64) (map[upgrade.Status]int, error) {
	return c.counts[batchID], nil
}

func (c *countingSource) StuckCount(_ context.Context, batchID int64) (int, error) {
	c.stuck = append(c.stuck, batchID)
	return 1, nil
}

func (c *countingSource) LearnedRates(context.Context) ([]store.LearnedRate, error) {
	return []store.LearnedRate{
		{Limit: "product_upgrade_create", ConfiguredPerSecond: 5, LearnedPerSecond: 5},
		{Limit: "subscriptions", ConfiguredPerSecond: 500.0 / 60, LearnedPerSecond: 2, Lowered: 4},
	}, nil
}

func (c *countingSource) Holds(context.Context) ([]store.Hold, error) {
	c.holds++
	return []store.Hold{{Name: store.HoldAuth, Reason: "refused", Until: time.Now().Add(time.Hour)}}, nil
}

func (c *countingSource) Progress(_ context.Context, batchID int64, topErrors int) (store.Progress, error) {
	c.topErrors[batchID] = topErrors
	var p store.Progress
	if topErrors > 0 {
		p.TopErrors = []store.ErrorCount{{Code: "E", Count: 1}}
	}
	return p, nil
}

func TestLoadStatusesReadsTheHoldsOnceAndOnlyWhatTheCountsCallFor(t *testing.T) {
	t.Parallel()
	src := &countingSource{
		counts: map[int64]map[upgrade.Status]int{
			1: {upgrade.StatusCompleted: 3},
			2: {upgrade.StatusInProgress: 2, upgrade.StatusPending: 1},
			3: {upgrade.StatusCompleted: 1, upgrade.StatusIneligible: 1},
		},
		topErrors: map[int64]int{},
	}
	list, err := report.LoadStatuses(context.Background(), src, []store.Batch{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c"}})
	require.NoError(t, err)
	require.Equal(t, 1, src.holds, "the holds are read once for the whole list")
	require.Equal(t, []int64{2}, src.stuck, "stuck items are counted where items are in progress")
	require.Equal(t, []int64{1, 2, 3}, src.attention, "attention is counted where items completed or are in progress")
	require.Equal(t, map[int64]int{1: report.TopErrorCodes, 2: 0, 3: report.TopErrorCodes}, src.topErrors,
		"error codes are read where items failed, were ineligible or need attention")
	require.Len(t, list, 3)
	for i, name := range []string{"a", "b", "c"} {
		require.Equal(t, name, list[i].Batch)
		require.Len(t, list[i].Holds, 1)
		require.NotNil(t, list[i].TopErrors)
		require.Len(t, list[i].RateLimits, 1, "only the limit learned below its configured rate")
		require.Equal(t, "subscriptions", list[i].RateLimits[0].Limit)
	}
	require.Equal(t, []int{0, 1, 0}, []int{list[0].Stuck, list[1].Stuck, list[2].Stuck})
	require.Equal(t, []int{2, 0, 0}, []int{list[0].Attention, list[1].Attention, list[2].Attention})
	require.Len(t, list[0].TopErrors, 1, "the codes of the items needing attention")
	require.Empty(t, list[1].TopErrors)
	require.Len(t, list[2].TopErrors, 1)

	// One batch: the same status as in the list.
	s, err := report.LoadStatus(context.Background(), src, store.Batch{ID: 2, Name: "b"})
	require.NoError(t, err)
	require.Equal(t, 2, src.holds)
	require.Equal(t, list[1].Counts, s.Counts)
	require.Equal(t, 1, s.Stuck)

	var out strings.Builder
	require.NoError(t, s.WriteTable(&out))
	require.Contains(t, out.String(), "subscriptions: Partner Center allows less than configured; the governor uses 2.00 calls/s of the configured 8.33 (24 %), lowered by 4 429(s)")
	require.NotContains(t, out.String(), "product_upgrade_create")
	out.Reset()
	require.NoError(t, s.WriteJSON(&out))
	require.Contains(t, out.String(), `"rate_limits": [`)
	require.Contains(t, out.String(), `"learned_per_second": 2,`)
}
