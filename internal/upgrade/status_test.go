package upgrade

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckTransition(t *testing.T) {
	t.Parallel()

	allowed := map[Status][]Status{
		StatusPending:    {StatusInProgress, StatusEligible, StatusIneligible, StatusFailed, StatusCancelled},
		StatusInProgress: {StatusCompleted, StatusFailed, StatusCancelled},
		StatusFailed:     {StatusPending},
	}
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			want := false
			for _, a := range allowed[from] {
				if a == to {
					want = true
				}
			}
			err := CheckTransition(from, to)
			if want {
				require.NoError(t, err, "%s -> %s", from, to)
				continue
			}
			var te *TransitionError
			require.True(t, errors.As(err, &te), "%s -> %s should be refused", from, to)
			require.Equal(t, from, te.From)
		}
	}
	require.Error(t, CheckTransition(StatusPending, Status("bogus")))
}

func TestFinal(t *testing.T) {
	t.Parallel()

	var final []Status
	for _, s := range Statuses() {
		if s.Final() {
			final = append(final, s)
		}
	}
	require.Equal(t, []Status{StatusEligible, StatusIneligible, StatusCompleted, StatusFailed, StatusCancelled}, final)
	require.False(t, Status("PENDING").Valid())
}

func TestCheckBatchTransition(t *testing.T) {
	t.Parallel()

	allowed := map[BatchStatus][]BatchStatus{
		BatchRunning:   {BatchPaused, BatchHalted, BatchCancelled, BatchCompleted},
		BatchCanary:    {BatchRunning, BatchPaused, BatchHalted, BatchCancelled, BatchCompleted},
		BatchPaused:    {BatchRunning, BatchCancelled},
		BatchHalted:    {BatchRunning, BatchCancelled},
		BatchCompleted: {BatchRunning},
	}
	for _, from := range BatchStatuses() {
		for _, to := range BatchStatuses() {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			err := CheckBatchTransition(from, to)
			if want {
				require.NoError(t, err, "%s -> %s", from, to)
			} else {
				require.Error(t, err, "%s -> %s", from, to)
			}
		}
	}
}

func TestBatchStatusGatesWork(t *testing.T) {
	t.Parallel()

	require.True(t, BatchRunning.Starts(false))
	require.True(t, BatchCanary.Starts(true))
	require.False(t, BatchCanary.Starts(false))
	for _, s := range []BatchStatus{BatchPaused, BatchHalted, BatchCancelled, BatchCompleted} {
		require.False(t, s.Starts(true), s)
	}
	require.True(t, BatchCancelled.Follows(false))
	require.False(t, BatchPaused.Follows(true))
	require.False(t, BatchHalted.Follows(true))
}

func TestParseOperation(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]Operation{
		"product_upgrade": ProductUpgrade, " Subscription-Upgrade ": SubscriptionUpgrade, "TRANSITION": Transition,
	} {
		got, err := ParseOperation(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
	_, err := ParseOperation("migration")
	require.ErrorContains(t, err, `unknown operation "migration"`)
}
