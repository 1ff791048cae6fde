package jobs_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// panickingUpgrades is Partner Center's product-upgrade service with a
// defect: the job working one customer's eligibility, or another's status,
// panics every time.
type panickingUpgrades struct {
	jobs.ProductUpgrader
	eligibilityOf, statusOf string
}

func (p panickingUpgrades) Eligibility(ctx context.Context, call partnercenter.Call, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesEligibility, *partnercenter.Response, error) {
	if strings.EqualFold(req.CustomerID, p.eligibilityOf) {
		panic("defect while checking eligibility of " + req.CustomerID)
	}
	return p.ProductUpgrader.Eligibility(ctx, call, req)
}

func (p panickingUpgrades) Status(ctx context.Context, call partnercenter.Call, upgradeID string, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesStatus, *partnercenter.Response, error) {
	if strings.EqualFold(req.CustomerID, p.statusOf) {
		panic("defect while polling the upgrade of " + req.CustomerID)
	}
	return p.ProductUpgrader.Status(ctx, call, upgradeID, req)
}

// A job that panics every time is re-queued reconcile.max_requeues times,
// then its item fails with internal_error and the panic, for a start job
// (pending item) and a follow job (item in progress) alike. The rest of the
// batch finishes, the batch is not halted by these give-ups, and the
// metric counts them.
func TestPanickingJobsItemFailsAfterMaxRequeues(t *testing.T) {
	t.Parallel()
	customers := guids(6, "poison")
	opts := quickSim()
	opts.IneligibleShare, opts.FailShare = 0, 0
	bad := panickingUpgrades{eligibilityOf: customers[0], statusOf: customers[1]}
	w := newWorld(t, opts, func(c *config.Config) {
		c.Workers.MaxAttempts = 1 // a panic discards the job at once
		c.Reconcile.MaxRequeues = 2
		c.Halt = config.Halt{FailureRate: 0.25, Window: time.Minute, MinItems: 2}
	}, service.WithJobDeps(func(d *jobs.Deps) {
		bad.ProductUpgrader = d.Upgrades
		d.Upgrades = bad
	}))

	b := w.importCSV("poison", importer.Options{}, productCSV(customers)...)
	counts := w.waitStatus(b, upgrade.BatchCompleted, 90*time.Second)
	require.Equal(t, len(customers)-2, counts[upgrade.StatusCompleted])
	require.Equal(t, 2, counts[upgrade.StatusFailed])

	for i, want := range []struct{ kind, panic string }{
		{"create_upgrade", "defect while checking eligibility of " + customers[0]},
		{"poll_upgrade_status", "defect while polling the upgrade of " + customers[1]},
	} {
		ids, err := w.st.FindItems(context.Background(), b.ID, customers[i], "")
		require.NoError(t, err)
		require.Len(t, ids, 1)
		it, err := w.st.Item(context.Background(), ids[0])
		require.NoError(t, err)
		require.Equal(t, upgrade.StatusFailed, it.Status, customers[i])
		require.Equal(t, store.CodeInternalError, it.ErrorCode)
		require.Contains(t, it.ErrorMessage, "gave up: the item's "+want.kind+" job ended without settling it 3 times (re-queued 2 times; reconcile.max_requeues is 2)")
		require.Contains(t, it.ErrorMessage, want.panic, "the last error River recorded")

		hist, err := w.st.ItemHistory(context.Background(), it.ID)
		require.NoError(t, err)
		var requeues, gaveUp int
		for _, h := range hist {
			if strings.HasPrefix(h.Reason, "re-queued: its "+want.kind+" job ended without settling the item") {
				requeues++
			}
			if h.To == string(upgrade.StatusFailed) && h.Reason == "gave up: its job kept vanishing" && h.ErrorCode == store.CodeInternalError {
				gaveUp++
			}
		}
		require.Equal(t, 2, requeues, "every re-queue is in the history")
		require.Equal(t, 1, gaveUp, "the failure says why")
	}
	require.Zero(t, w.sim.CreatedCount(customers[0]), "the panicking start job created nothing")
	require.Equal(t, 1, w.sim.CreatedCount(customers[1]), "the upgrade was created once, never again")

	metric := regexp.MustCompile(`(?m)^orchestrator_items_poisoned_total\{operation="product_upgrade"\} (\S+)$`)
	resp, err := http.Get("http://" + w.addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	m := metric.FindSubmatch(body)
	require.NotNil(t, m, "metric exported")
	require.Equal(t, "2", string(m[1]))
}
