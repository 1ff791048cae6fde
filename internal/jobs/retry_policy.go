package jobs

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// RetryPolicy schedules a failed job's next attempt: Base doubled per
// recorded error, capped at Max, with ±20% jitter. Partner Center's
// transient errors (5xx, resets) clear in seconds to minutes, so River's
// default quartic backoff, which reaches hours by the sixth attempt, would
// stall a batch for nothing. Snoozes (429, polling) record no error and so
// do not lengthen it.
type RetryPolicy struct {
	Base, Max time.Duration
}

// NextRetry implements river.ClientRetryPolicy.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.Backoff(len(job.Errors)))
}

// Backoff is the wait after the n-th failure in a row: Base doubled per
// failure after the first, at most Max, with ±20% jitter. Transient
// failures, which snooze instead of failing the job, wait the same way.
func (p RetryPolicy) Backoff(n int) time.Duration {
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	jitter := 0.8 + 0.4*rand.Float64() //nolint:gosec // jitter, not security
	return time.Duration(float64(d) * jitter)
}
