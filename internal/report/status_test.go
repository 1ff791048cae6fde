package report_test

import (
	"bytes"
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
		report.NewSummary(store.BatchProgress{Batch: store.Batch{Name: "old", Operation: upgrade.ProductUpgrade, Status: upgrade.BatchCompleted, ItemCount: 3}}),
	}
	require.Equal(t, 75.0, list[0].DonePercent)
	require.Equal(t, int64(5*60*10), *list[0].ETASeconds, "250 open at 5 a minute")
	require.Nil(t, list[1].ETASeconds)
	require.Equal(t, 66.6, list[1].DonePercent)
	var buf bytes.Buffer
	require.NoError(t, report.WriteSummariesTable(&buf, list))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 4)
	require.Regexp(t, `^BATCH\s+OPERATION\s+STATE\s+TOTAL\s+DONE\s+THROUGHPUT\s+ETA$`, lines[0])
	require.Regexp(t, `^wave-2\s+transition\s+running\s+1000\s+75\.0%\s+5\.0/min\s+50m00s$`, lines[1])
	require.Regexp(t, `^wave-1\s+product_upgrade\s+paused\s+3\s+66\.6%\s+0\.0/min\s+unknown$`, lines[2])
	require.Regexp(t, `^old\s+product_upgrade\s+completed\s+3\s+100\.0%\s+0\.0/min\s+done$`, lines[3])
}
