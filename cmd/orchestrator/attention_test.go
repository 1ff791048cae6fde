package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// Partial results through the real binary, against the simulator of
// examples/scenarios/partial.yaml (lifecycles shortened): product upgrades
// Completed with a top-level errorDetails or with a failed line item stay
// completed with attention, and one reporting a status the service does not
// know is flagged after polling.unknown_status_polls polls; status --json,
// the list of batches and the report show them.
func TestPartialResultsEndToEnd(t *testing.T) {
	t.Parallel()
	opts, err := simulator.LoadScenario("../../examples/scenarios/partial.yaml")
	require.NoError(t, err)
	opts.MinDuration, opts.MaxDuration = 300*time.Millisecond, time.Second
	opts.IneligibleShare, opts.FailShare = 0, 0
	sim, err := simulator.New(opts)
	require.NoError(t, err)

	var clean, topLevel, failedLine, unknown string
	for i := 0; clean == "" || topLevel == "" || failedLine == "" || unknown == ""; i++ {
		require.Less(t, i, 1000, "the scenario has every case")
		c := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "partial-e2e/%d", i)).String()
		p := sim.Predict(c)
		switch {
		case p.UnknownStatus != "":
			unknown = c
		case p.Partial && p.ErrorCode != "":
			topLevel = c
		case p.Partial:
			failedLine = c
		default:
			clean = c
		}
	}
	e := newE2E(t, opts, strings.Replace(fastConfig, "polling:\n", "polling:\n  unknown_status_polls: 3\n", 1))
	e.mustRun("migrate")
	csvPath := filepath.Join(t.TempDir(), "partial.csv")
	require.NoError(t, os.WriteFile(csvPath, []byte("customer_id\n"+strings.Join([]string{clean, topLevel, failedLine, unknown}, "\n")+"\n"), 0o600))
	e.mustRun("import", "--batch", "partial", csvPath)
	e.serve()

	var st report.Status
	deadline := time.Now().Add(time.Minute)
	for {
		out := e.mustRun("status", "--batch", "partial", "--json")
		require.NoError(t, json.Unmarshal([]byte(out), &st), out)
		if st.Counts["completed"] == 3 && st.Attention == 3 {
			break
		}
		require.True(t, time.Now().Before(deadline), "not settled: %s", out)
		time.Sleep(300 * time.Millisecond)
	}
	top := sim.Predict(topLevel)
	require.Equal(t, 1, st.Counts["in_progress"], "an unknown status is not known to be done")
	require.Equal(t, 1, st.Stuck)
	codes := map[string]int{}
	for _, c := range st.TopErrors {
		codes[c.Code] = c.Count
	}
	require.Equal(t, map[string]int{top.ErrorCode: 1, "line_items_failed": 1, "unknown_status": 1}, codes)

	var list struct {
		Batches []report.Summary `json:"batches"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.mustRun("status", "--json")), &list))
	require.Len(t, list.Batches, 1)
	require.Equal(t, 3, list.Batches[0].Attention)
	require.Regexp(t, `(?m)^partial\s+product_upgrade\s+running\s+4\s+75\.0%\s+3\s`, e.mustRun("status"))

	var rows []map[string]string
	require.NoError(t, json.Unmarshal([]byte(e.mustRun("report", "--batch", "partial", "--format", "json")), &rows))
	byCustomer := map[string][]map[string]string{}
	for _, r := range rows {
		byCustomer[r["customer_id"]] = append(byCustomer[r["customer_id"]], r)
	}
	want := map[string]struct{ status, attention, code string }{
		clean:      {"completed", "false", ""},
		topLevel:   {"completed", "true", top.ErrorCode},
		failedLine: {"completed", "true", "line_items_failed"},
		unknown:    {"in_progress", "true", "unknown_status"},
	}
	for c, w := range want {
		require.NotEmpty(t, byCustomer[c], c)
		for _, r := range byCustomer[c] {
			require.Equal(t, w.status, r["status"], c)
			require.Equal(t, w.attention, r["attention"], c)
			require.Equal(t, w.code, r["item_error_code"], c)
			if w.attention == "true" {
				require.NotEmpty(t, r["item_error_message"], c)
			}
		}
	}
	last := byCustomer[failedLine][len(byCustomer[failedLine])-1]
	require.Equal(t, "Failed", last["line_item_status"])
	require.Equal(t, "900105", last["error_code"], "the failed line keeps its own code")
	require.Contains(t, byCustomer[topLevel][0]["item_error_message"], top.ErrorMessage)
}
