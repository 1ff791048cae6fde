package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestCreateRequestIDRepeatsOnlyAfterUnknownOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	var mu sync.Mutex
	var createIDs []string
	answers := []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusAccepted}
	pc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/eligibility") {
			_, _ = w.Write([]byte(`{"customerId":"c1958bc7-3284-4952-a257-de594ee64743","productFamily":"Azure","isEligible":true}`))
			return
		}
		mu.Lock()
		createIDs = append(createIDs, r.Header.Get("MS-RequestId"))
		status := answers[len(createIDs)-1]
		mu.Unlock()
		switch status {
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		case http.StatusAccepted:
			w.Header().Set("Location", "productUpgrades/42d075a4-bfe7-43e7-af6d-7c68a57edcb4")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(pc.Close)

	b := setup(t, http.StatusOK, nil, "")
	b.deps.Upgrades = newClient(t, pc.URL).ProductUpgrades

	// A client in the context: the create job queues the first poll.
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	w := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, jobs.NewCreateUpgradeWorker(b.deps))
	for range answers {
		// The 429 would hold the next attempt back, here and in the database.
		_, err = b.pool.Exec(ctx, `delete from rate_buckets`)
		require.NoError(t, err)
		b.deps.Governor, err = ratelimit.New(b.st, ratelimit.DefaultLimits(), 1, 0.2)
		require.NoError(t, err)
		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		_, _ = w.Work(rivertest.WorkContext(ctx, client), t, tx, jobs.CreateUpgradeArgs{ItemID: b.itemID}, nil)
		require.NoError(t, tx.Commit(ctx))
	}

	require.Len(t, createIDs, 3)
	require.Equal(t, createIDs[0], createIDs[1], "repeated after a 503: the outcome was unknown")
	require.Equal(t, createIDs[1], createIDs[2], "repeated after a 429: throttled, the request was not looked at")
	it := b.item(t)
	require.Equal(t, upgrade.StatusInProgress, it.Status)
	require.Equal(t, 1, it.CreateRequestSeq, "moved on once, after the accepted create")
	require.False(t, it.CreateUnknown)
	require.Equal(t, "42d075a4-bfe7-43e7-af6d-7c68a57edcb4", it.UpgradeID)
}
