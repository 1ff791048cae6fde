package jobs

import (
	"errors"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// liveUnique makes a job unique per args while it is live, so an item never
// has two jobs of one kind queued.
func liveUnique() river.UniqueOpts {
	return river.UniqueOpts{
		ByArgs: true,
		ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		},
	}
}

func isStale(err error) bool { return errors.Is(err, store.ErrStaleStatus) }

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
