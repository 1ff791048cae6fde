package jobs_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/metrics"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// partialSim is a quick world where Partner Center completes work only in
// part.
func partialSim() simulator.Options {
	opts := quickSim()
	opts.IneligibleShare, opts.FailShare = 0, 0
	opts.Partial = simulator.Partial{TopLevelErrorShare: 0.25, FailedLineShare: 0.35, ConvertedThenFailedShare: 1, UnknownStatusShare: 0.2}
	return opts
}

// csvReport returns the batch's CSV report as one map per row, keyed by the
// header, grouped by customer (and subscription).
func (w *world) csvReport(b store.Batch) map[string][]map[string]string {
	w.t.Helper()
	var buf bytes.Buffer
	require.NoError(w.t, report.WriteCSV(context.Background(), &buf, w.st, b))
	recs, err := csv.NewReader(&buf).ReadAll()
	require.NoError(w.t, err)
	require.Equal(w.t, report.HeaderFor(b.Operation), recs[0])
	out := map[string][]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		k := row["customer_id"]
		if row["subscription_id"] != "" {
			k += "/" + row["subscription_id"]
		}
		out[k] = append(out[k], row)
	}
	return out
}

// status returns the batch's status as status --json shows it.
func (w *world) status(b store.Batch) report.Status {
	w.t.Helper()
	cur, err := w.st.BatchByName(context.Background(), b.Name)
	require.NoError(w.t, err)
	s, err := report.LoadStatus(context.Background(), w.st, cur)
	require.NoError(w.t, err)
	return s
}

// topErrors returns a status' top error codes as a map.
func topErrors(s report.Status) map[string]int {
	out := map[string]int{}
	for _, e := range s.TopErrors {
		out[e.Code] = e.Count
	}
	return out
}

// A product upgrade Partner Center completed only in part stays completed
// and carries attention, with the item's own code and message beside each
// line item's; one whose status value the service does not know is flagged
// for attention and stuck after polling.unknown_status_polls polls.
func TestProductUpgradesCompletedInPartNeedAttention(t *testing.T) {
	t.Parallel()
	w := newWorld(t, partialSim(), func(c *config.Config) { c.Polling.UnknownStatusPolls = 3 })

	var clean, topLevel, failedLine, unknown string
	for _, c := range guids(200, "partial-product") {
		p := w.sim.Predict(c)
		switch {
		case p.UnknownStatus != "" && unknown == "":
			unknown = c
		case p.Partial && p.ErrorCode != "" && topLevel == "":
			topLevel = c
		case p.Partial && p.ErrorCode == "" && failedLine == "":
			failedLine = c
		case !p.Partial && p.UnknownStatus == "" && clean == "":
			clean = c
		}
	}
	require.NotEmpty(t, clean+topLevel+failedLine+unknown)
	require.True(t, clean != "" && topLevel != "" && failedLine != "" && unknown != "", "the world has every case")
	b := w.importCSV("partial-product", importer.Options{}, "customer_id,product_family",
		clean+",Azure", topLevel+",Azure", failedLine+",Azure", unknown+",Azure")
	w.waitFor(b, 60*time.Second, "three completed, the fourth flagged", func(_ store.Batch, counts map[upgrade.Status]int) bool {
		n, err := w.st.AttentionCount(context.Background(), b.ID)
		require.NoError(t, err)
		return counts[upgrade.StatusCompleted] == 3 && n == 3
	})

	rows := w.csvReport(b)
	for _, r := range rows[clean] {
		require.Equal(t, "completed", r["status"])
		require.Equal(t, "false", r["attention"])
		require.Empty(t, r["item_error_code"])
	}
	top := w.sim.Predict(topLevel)
	for _, r := range rows[topLevel] {
		require.Equal(t, "completed", r["status"], "the status contract does not change")
		require.Equal(t, "true", r["attention"])
		require.Equal(t, top.ErrorCode, r["item_error_code"], "the top-level errorDetails is not hidden when no line carries an error")
		require.Contains(t, r["item_error_message"], top.ErrorMessage)
		require.Equal(t, "Completed", r["line_item_status"])
		require.Empty(t, r["error_code"], "a completed line item carries no error")
	}
	lines := w.sim.Predict(failedLine).LineItems
	got := rows[failedLine]
	require.Len(t, got, len(lines))
	for i, r := range got {
		require.Equal(t, "completed", r["status"])
		require.Equal(t, "true", r["attention"])
		require.Equal(t, jobs.CodeLineItemsFailed, r["item_error_code"], "the item's code, not a line's")
		require.Contains(t, r["item_error_message"], "1 of "+fmt.Sprint(len(lines)))
		require.Equal(t, lines[i].Status, r["line_item_status"])
		require.Equal(t, lines[i].ErrorCode, r["error_code"], "each line keeps its own error")
		require.Equal(t, lines[i].ErrorMessage, r["error_message"])
	}
	require.Equal(t, "Failed", got[len(got)-1]["line_item_status"])
	for _, r := range rows[unknown] {
		require.Equal(t, "in_progress", r["status"], "not known to be done")
		require.Equal(t, "true", r["attention"])
		require.Equal(t, jobs.CodeUnknownStatus, r["item_error_code"])
		require.Contains(t, r["item_error_message"], `"Suspended"`)
	}

	s := w.status(b)
	require.Equal(t, 3, s.Attention)
	require.Equal(t, 1, s.Stuck, "the item with an unknown status is no longer polled")
	require.Equal(t, map[string]int{top.ErrorCode: 1, jobs.CodeLineItemsFailed: 1, jobs.CodeUnknownStatus: 1}, topErrors(s))
	var summary *report.Summary
	all, err := w.st.BatchesProgress(context.Background())
	require.NoError(t, err)
	for _, bp := range all {
		if bp.Name == b.Name {
			s := report.NewSummary(bp)
			summary = &s
		}
	}
	require.NotNil(t, summary)
	require.Equal(t, 3, summary.Attention, "the list of batches shows it")

	// The unknown status is kept verbatim, and the history says why the
	// item is flagged.
	var recorded string
	var unknownPolls int
	require.NoError(t, w.db.QueryRow(context.Background(), `
		select u.status, u.unknown_polls from upgrades u join batch_items i on i.id = u.item_id
		where i.batch_id = $1 and i.customer_id = $2`, b.ID, unknown).Scan(&recorded, &unknownPolls))
	require.Equal(t, "Suspended", recorded)
	require.Equal(t, 3, unknownPolls, "flagged after the configured number of polls, then no longer polled")
	ids, err := w.st.FindItems(context.Background(), b.ID, unknown, "")
	require.NoError(t, err)
	hist, err := w.st.ItemHistory(context.Background(), ids[0])
	require.NoError(t, err)
	flagged := false
	for _, h := range hist {
		flagged = flagged || h.ErrorCode == jobs.CodeUnknownStatus
	}
	require.True(t, flagged, "the history records the flag")
}

// A subscription upgrade that succeeded with user license faults is
// completed with attention; every fault is a row naming the user (object
// id, name, e-mail) with Partner Center's code, text and source.
func TestSubscriptionUpgradeWithLicenseFaultsNeedsAttention(t *testing.T) {
	t.Parallel()
	opts := quickSim()
	opts.IneligibleShare, opts.LicenseErrorShare = 0, 1
	w := newWorld(t, opts, nil)

	customers, subs := guids(40, "license-customer"), guids(40, "license-subscription")
	lines := []string{"customer_id,subscription_id,target_offer_id,upgrade_type"}
	var picked []int
	for i := range customers {
		if len(w.sim.PredictSubscriptionUpgrade(customers[i], subs[i]).EligibleOfferIDs()) == 1 && len(picked) < 2 {
			picked = append(picked, i)
			lines = append(lines, customers[i]+","+subs[i]+",,upgrade_with_license_transfer")
		}
	}
	require.Len(t, picked, 2)
	b := w.importCSV("license", importer.Options{}, lines...)
	w.waitStatus(b, upgrade.BatchCompleted, 30*time.Second)

	rows := w.csvReport(b)
	for _, i := range picked {
		p := w.sim.PredictSubscriptionUpgrade(customers[i], subs[i])
		require.NotEmpty(t, p.LicenseFaults)
		got := rows[customers[i]+"/"+subs[i]]
		require.Len(t, got, len(p.LicenseFaults), "one row per license fault")
		for j, r := range got {
			f := p.LicenseFaults[j]
			require.Equal(t, "completed", r["status"])
			require.Equal(t, "true", r["attention"])
			require.Equal(t, jobs.CodeLicenseErrors, r["item_error_code"])
			require.Contains(t, r["item_error_message"], "upgraded")
			require.Equal(t, "license_error", r["detail_type"])
			require.Equal(t, f.UserObjectID, r["detail_subject"])
			require.Equal(t, f.Name, r["detail_name"])
			require.Equal(t, f.Email, r["detail_email"])
			require.Equal(t, f.Code, r["error_code"], "the code as sent")
			require.Contains(t, r["error_message"], f.Description)
			require.Contains(t, r["error_message"], "source: "+f.Source)
		}
		require.Equal(t, 1, w.sim.SubscriptionUpgradeCount(customers[i], subs[i]))
	}
	s := w.status(b)
	require.Equal(t, 2, s.Attention)
	require.Equal(t, map[string]int{jobs.CodeLicenseErrors: 2}, topErrors(s))

	var user, email, source string
	require.NoError(t, w.db.QueryRow(context.Background(), `
		select d.user_name, d.email, d.source from item_details d join batch_items i on i.id = d.item_id
		where i.batch_id = $1 and d.kind = 'license_error' limit 1`, b.ID).Scan(&user, &email, &source))
	require.NotEmpty(t, user)
	require.NotEmpty(t, email)
	require.NotEmpty(t, source, "the item's details keep the user and the fault's source")

	// The history names the user of each license fault.
	i := picked[0]
	h, err := report.LoadHistory(context.Background(), w.st, b, customers[i], subs[i])
	require.NoError(t, err)
	var named int
	for _, ih := range h.Items {
		for _, a := range ih.Attempts {
			for _, d := range a.Details {
				if d.Kind == "license_error" {
					require.NotEmpty(t, d.UserName)
					require.Contains(t, d.Email, "@")
					require.NotEmpty(t, d.Source)
					named++
				}
			}
		}
	}
	require.Len(t, w.sim.PredictSubscriptionUpgrade(customers[i], subs[i]).LicenseFaults, named, "every license fault in the history")
}

// A transition that converted the subscription but whose license
// reassignment then failed is completed with attention, with every error of
// the failed event; retrying the batch's failed items transitions nothing
// again.
func TestConvertedThenFailedTransitionIsCompletedAndNeverRetried(t *testing.T) {
	t.Parallel()
	w := newWorld(t, partialSim(), nil)
	customers, subs := guids(60, "converted-customer"), guids(60, "converted-subscription")
	lines := []string{"customer_id,subscription_id,transition_type"}
	var picked []int
	for i := range customers {
		p := w.sim.PredictTransition(customers[i], subs[i])
		if p.ConvertedThenFails && p.UnknownStatus == "" && len(eligibleTargets(p, "transition_with_license_transfer")) == 1 && len(picked) < 3 {
			picked = append(picked, i)
			lines = append(lines, customers[i]+","+subs[i]+",transition_with_license_transfer")
		}
	}
	require.Len(t, picked, 3)
	b := w.importCSV("converted", importer.Options{}, lines...)
	w.waitStatus(b, upgrade.BatchCompleted, 30*time.Second)

	rows := w.csvReport(b)
	for _, i := range picked {
		got := rows[customers[i]+"/"+subs[i]]
		var failedCodes []string
		for _, r := range got {
			require.Equal(t, "completed", r["status"], "converted: done at Partner Center")
			require.Equal(t, "true", r["attention"])
			require.Equal(t, jobs.CodeEventsFailed, r["item_error_code"])
			require.Contains(t, r["item_error_message"], "LicenseReassignment Failed")
			if r["event_name"] == "LicenseReassignment" && r["event_status"] == "Failed" {
				failedCodes = append(failedCodes, r["error_code"])
				require.NotEmpty(t, r["error_message"])
			}
		}
		require.Equal(t, []string{"12", "0"}, failedCodes, "every error of the failed event, codes as sent")
		require.Equal(t, 1, w.sim.TransitionCount(customers[i], subs[i]))
	}
	s := w.status(b)
	require.Equal(t, 3, s.Attention)
	require.Zero(t, s.Counts[string(upgrade.StatusFailed)])
	require.Equal(t, map[string]int{jobs.CodeEventsFailed: 3}, topErrors(s))

	before := w.sim.Stats().Totals.Creates
	res, err := w.ctl.RetryFailed(context.Background(), b.Name, "")
	require.NoError(t, err)
	require.Zero(t, res.Items, "nothing to retry: the transitions were carried out")
	time.Sleep(2 * w.cfg.Reconcile.Interval) // a dispatch and a reconcile go by
	require.Equal(t, before, w.sim.Stats().Totals.Creates, "nothing created at Partner Center")
	for _, i := range picked {
		require.Equal(t, 1, w.sim.TransitionCount(customers[i], subs[i]))
	}
	require.Empty(t, w.sim.Stats().Duplicates)
}

func TestAttentionCodesArePreInitialisedMetricLabels(t *testing.T) {
	t.Parallel()
	codes := map[upgrade.Operation][]string{
		upgrade.ProductUpgrade:      {jobs.CodeLineItemsFailed, jobs.CodeUnknownStatus},
		upgrade.SubscriptionUpgrade: {jobs.CodeLicenseErrors},
		upgrade.Transition:          {jobs.CodeEventsFailed, jobs.CodeUnknownStatus},
	}
	for op, want := range codes {
		require.Equal(t, want, metrics.AttentionCodes(op), op)
	}
}
