package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
)

func TestCallRecordFailuresAreCountedByOperation(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := New(reg, "test")
	require.NoError(t, err)

	// Every Partner Center operation starts at zero; the token endpoint is
	// not a recorded call.
	require.Equal(t, len(Operations)-1, testutil.CollectAndCount(m.unrecorded))
	m.ObserveRecordFailure(partnercenter.OpSubscriptionUpgradePerform)
	m.ObserveRecordFailure(partnercenter.OpSubscriptionUpgradePerform)
	require.Equal(t, 2.0, testutil.ToFloat64(m.unrecorded.WithLabelValues(partnercenter.OpSubscriptionUpgradePerform)))
	require.Equal(t, 0.0, testutil.ToFloat64(m.unrecorded.WithLabelValues(partnercenter.OpProductUpgradeCreate)))

	problems, err := testutil.GatherAndLint(reg, "orchestrator_call_record_failures_total")
	require.NoError(t, err)
	require.Empty(t, problems)
}
