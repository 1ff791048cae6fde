package jobs_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/simulator"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// creates is an http.RoundTripper that remembers the MS-RequestId of every
// POST it carries (the create calls) on its way to the real server.
type creates struct {
	mu  sync.Mutex
	ids []string
}

func (c *creates) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/subscriptions/") {
		c.mu.Lock()
		c.ids = append(c.ids, r.Header.Get(partnercenter.HeaderRequestID))
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *creates) sent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// A call Partner Center answered but the database would not record is not
// acted upon: the job fails, the item stays as it was with the same create
// MS-RequestId, and the retry repeats the same request, which Partner Center
// answers as the one it already performed; the repeat is recorded.
func TestUnrecordedCallFailsTheJobAndIsRepeatedWithTheSameRequestID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim, err := simulator.New(quickSim())
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	var customer, sub string
	customers, subs := guids(40, "unrecorded-customer"), guids(40, "unrecorded-subscription")
	for i := range customers {
		if len(sim.PredictSubscriptionUpgrade(customers[i], subs[i]).EligibleOfferIDs()) == 1 {
			customer, sub = customers[i], subs[i]
			break
		}
	}
	require.NotEmpty(t, customer, "the world has a subscription with one eligible upgrade")

	sent := &creates{}
	httpClient, err := partnercenter.NewHTTPClient(ctx, partnercenter.Credentials{
		TenantID: "partner-tenant", ClientID: "record-test", ClientSecret: "record-test-secret",
		RefreshToken: "record-test-refresh-token", TokenURL: srv.URL + "/partner-tenant/oauth2/v2.0/token",
	}, &http.Client{Timeout: 5 * time.Second, Transport: sent})
	require.NoError(t, err)
	client, err := partnercenter.NewClient(httpClient, partnercenter.WithBaseURL(srv.URL))
	require.NoError(t, err)

	pool := storetest.NewPool(t)
	st := store.New(pool)
	b, err := importer.Import(ctx, st, "unrecorded", "unrecorded.csv",
		strings.NewReader("customer_id,subscription_id\n"+customer+","+sub+"\n"), importer.Options{Operation: upgrade.SubscriptionUpgrade})
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	gov, err := ratelimit.New(st, ratelimit.DefaultLimits(), 1, 0.2)
	require.NoError(t, err)
	var mu sync.Mutex
	var unrecorded []string
	deps := &jobs.Deps{
		Store: st, Subscriptions: client.SubscriptionUpgrades, Logger: slog.New(slog.DiscardHandler), Governor: gov,
		Worker: "record-test", LeaseTTL: time.Minute, AuthPause: time.Minute, StuckAfter: time.Hour,
		StallAfter: time.Minute, ReconcileInterval: time.Minute,
		ObserveRecordFailure: func(op string) {
			mu.Lock()
			defer mu.Unlock()
			unrecorded = append(unrecorded, op)
		},
	}
	work := func() error {
		w := rivertest.NewWorker(t, riverpgxv5.New(pool), &river.Config{}, jobs.NewSubscriptionUpgradeWorker(deps))
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, werr := w.Work(ctx, t, tx, jobs.SubscriptionUpgradeArgs{ItemID: ids[0]}, &river.InsertOpts{MaxAttempts: 5})
		return werr
	}
	item := func() store.Item {
		it, err := st.Item(ctx, ids[0])
		require.NoError(t, err)
		return it
	}
	before := item()

	// The database refuses to record the upgrade call, and counts how often
	// it was asked.
	_, err = pool.Exec(ctx, `
		create sequence refused_calls;
		create function refuse_calls() returns trigger language plpgsql as $$
		begin
		    perform nextval('refused_calls');
		    raise exception 'api_calls refuses writes';
		end $$;
		create trigger refuse_perform_calls before insert on api_calls
		    for each row when (new.operation = 'subscription_upgrade_perform') execute function refuse_calls();`)
	require.NoError(t, err)

	err = work()
	require.Error(t, err, "the job fails when the call cannot be recorded")
	require.Contains(t, err.Error(), "recording subscription_upgrade_perform call")
	var refused int64
	require.NoError(t, pool.QueryRow(ctx, `select last_value from refused_calls`).Scan(&refused))
	require.Equal(t, int64(jobs.RecordAttempts), refused, "the write was retried before giving up")
	require.Equal(t, []string{partnercenter.OpSubscriptionUpgradePerform}, unrecorded, "the failure is counted once")
	require.Len(t, sent.sent(), 1)
	require.Equal(t, 1, sim.SubscriptionUpgradeCount(customer, sub), "Partner Center did perform the upgrade")

	it := item()
	require.Equal(t, upgrade.StatusPending, it.Status, "the item is not settled on an unrecorded answer")
	require.Equal(t, before.CreateRequestSeq, it.CreateRequestSeq, "the create MS-RequestId did not advance")
	require.True(t, it.CreateUnknown, "the create's outcome stays unknown to the service")
	calls, err := st.APICalls(ctx, ids[0])
	require.NoError(t, err)
	for _, c := range calls {
		require.NotEqual(t, partnercenter.OpSubscriptionUpgradePerform, c.Operation)
	}

	// The database takes writes again: the retry repeats the same request.
	_, err = pool.Exec(ctx, `drop trigger refuse_perform_calls on api_calls`)
	require.NoError(t, err)
	require.NoError(t, work())
	ids2 := sent.sent()
	require.Len(t, ids2, 2)
	require.Equal(t, ids2[0], ids2[1], "the retry repeats the same MS-RequestId")
	require.Equal(t, 1, sim.Requests()[simulator.OpSubscriptionUpgradeCreate+"_replayed"], "Partner Center answered the repeat as the same request")
	require.Equal(t, 1, sim.SubscriptionUpgradeCount(customer, sub), "upgraded once")
	require.Equal(t, upgrade.StatusCompleted, item().Status)

	calls, err = st.APICalls(ctx, ids[0])
	require.NoError(t, err)
	var performs []store.APICall
	for _, c := range calls {
		if c.Operation == partnercenter.OpSubscriptionUpgradePerform {
			performs = append(performs, c)
		}
	}
	require.Len(t, performs, 1, "the repeat is on the record")
	require.Equal(t, ids2[0], performs[0].RequestID)
	require.Equal(t, http.StatusOK, performs[0].HTTPStatus)
	require.NotEmpty(t, performs[0].CV, "Partner Center's MS-CV is kept")
	require.NotEmpty(t, performs[0].RequestCV)
	require.Len(t, unrecorded, 1)
}
