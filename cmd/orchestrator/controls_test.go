package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// state returns the batch's status as the CLI prints it.
func (e *e2e) state(batch string) report.Status {
	e.t.Helper()
	var st report.Status
	out := e.mustRun("status", "--batch", batch, "--json")
	require.NoError(e.t, json.Unmarshal([]byte(out), &st), out)
	return st
}

func (e *e2e) waitState(batch, state string, timeout time.Duration) report.Status {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := e.state(batch)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("batch %s never %s: %+v", batch, state, st)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestOperatorControlsFromTheCommandLine(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 300*time.Millisecond, 600*time.Millisecond
	opts.IneligibleShare, opts.FailShare = 0, 0.3
	e := newE2E(t, opts, fastConfig)
	path, ids := writeCustomers(t, 12)

	// A canary of 4, then resume.
	out := e.mustRun("import", "--batch", "ops", "--canary", "4", path)
	require.Contains(t, out, "the first 4 queued")
	e.serve()
	st := e.waitState("ops", "paused", 60*time.Second)
	require.Contains(t, st.StateReason, "canary finished")
	require.Equal(t, 8, st.Counts["pending"])
	out = e.mustRun("batch", "resume", "ops")
	require.Contains(t, out, "batch ops: paused -> running (8 item(s))")
	out = e.mustRun("batch", "resume", "ops") // on a running batch: re-queues open items, polls stuck ones
	require.Contains(t, out, "running -> running")
	e.waitDone("ops", 60*time.Second)

	// Retry only the failed items; they keep their earlier attempt.
	st = e.waitState("ops", "completed", 30*time.Second)
	failed := st.Counts["failed"]
	require.Positive(t, failed, "the simulator fails some upgrades")
	out = e.mustRun("batch", "retry", "ops", "--failed")
	require.Contains(t, out, "completed -> running")
	e.waitDone("ops", 60*time.Second)
	var retried string
	for _, id := range ids {
		if e.sim.Predict(id).Fails {
			retried = id
			require.Equal(t, 2, e.sim.CreatedCount(id))
		} else {
			require.Equal(t, 1, e.sim.CreatedCount(id))
		}
	}
	hist := e.mustRun("history", "--batch", "ops", retried)
	require.Contains(t, hist, "failed -> pending")
	require.Contains(t, hist, "product_upgrade_create")
	require.Contains(t, hist, "error ", "errors are shown")

	// A dry run creates nothing.
	dry := filepath.Join(t.TempDir(), "dry.csv")
	require.NoError(t, os.WriteFile(dry, []byte("customer_id\n"+strings.ToUpper(ids[0])+"\n"), 0o600))
	out = e.mustRun("import", "--batch", "dry", "--dry-run", dry)
	require.Contains(t, out, "dry run")
	st = e.waitDone("dry", 60*time.Second)
	require.True(t, st.DryRun)
	require.Equal(t, 1, st.Counts["eligible"], "the customer already upgraded would be adopted: %v", st.Counts)

	// Pause is refused on a completed batch; retry needs --failed.
	e.waitState("ops", "completed", 30*time.Second)
	_, err := e.run("batch", "pause", "ops")
	require.Error(t, err)
	out, err = e.run("batch", "retry", "ops")
	require.Error(t, err)
	require.Contains(t, out, "--failed")
}
