package upgrade

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckTransition(t *testing.T) {
	t.Parallel()

	allowed := map[Status][]Status{
		StatusPending:    {StatusInProgress, StatusIneligible, StatusFailed, StatusCancelled},
		StatusInProgress: {StatusCompleted, StatusFailed, StatusCancelled},
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
	require.Equal(t, []Status{StatusIneligible, StatusCompleted, StatusFailed, StatusCancelled}, final)
	require.False(t, Status("PENDING").Valid())
}
