package jobs

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

func TestRetryPolicyDoublesAndCaps(t *testing.T) {
	t.Parallel()

	p := RetryPolicy{Base: time.Second, Max: 30 * time.Second}
	for _, tt := range []struct {
		errors int
		want   time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second}, {6, 30 * time.Second}, {40, 30 * time.Second}} {
		job := &rivertype.JobRow{Errors: make([]rivertype.AttemptError, tt.errors)}
		got := time.Until(p.NextRetry(job))
		require.InDelta(t, float64(tt.want), float64(got), float64(tt.want)*0.21, "after %d errors", tt.errors)
	}
}

func TestPollDelayDoublesAndCaps(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		n    int
		want time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {4, 60 * time.Second}, {100, 60 * time.Second}} {
		got := pollDelay(10*time.Second, time.Minute, tt.n)
		require.InDelta(t, float64(tt.want), float64(got), float64(tt.want)*0.21, "poll %d", tt.n)
	}
}
