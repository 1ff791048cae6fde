package jobs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

const (
	exCustomer     = "c1958bc7-3284-4952-a257-de594ee64743"
	exSubscription = "a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70"
	exOffer        = "91FD106F-4B2C-4938-95AC-F54F74E9A239"
)

// scriptedUpgrades is a Partner Center whose GET upgrades lists one
// eligible offer and whose performs are answered, in turn, by answers
// (the last one repeats). It records the MS-RequestId and body of every
// perform and counts the lists.
type scriptedUpgrades struct {
	answers []func(w http.ResponseWriter)
	mu      sync.Mutex
	ids     []string
	bodies  []string
	lists   int
}

func (p *scriptedUpgrades) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Method == http.MethodGet {
		p.lists++
		fmt.Fprintf(w, `{"totalCount":1,"items":[{"targetOffer":{"id":%q,"name":"E1","minimumQuantity":1,"maximumQuantity":100},`+
			`"upgradeType":"upgrade_only","isEligible":true,"quantity":3,"upgradeErrors":[]}]}`, exOffer)
		return
	}
	b, _ := io.ReadAll(r.Body)
	p.ids = append(p.ids, r.Header.Get("MS-RequestId"))
	p.bodies = append(p.bodies, string(b))
	p.answers[min(len(p.ids), len(p.answers))-1](w)
}

func answer(status int, header http.Header, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

var (
	lost      = answer(http.StatusServiceUnavailable, nil, `{"code":"800003","description":"unavailable"}`)
	throttled = answer(http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, `{"statusCode":429,"message":"Rate limit is exceeded."}`)
	upgraded  = answer(http.StatusOK, nil, `{"sourceSubscriptionId":"`+exSubscription+`","targetSubscriptionId":"2add5a61-3b8e-4f3e-8a54-0c6bd1b3d1a0",`+
		`"upgradeType":1,"upgradeErrors":[],"licenseErrors":[]}`)
	notActive = answer(http.StatusBadRequest, nil, `{"code":"800012","description":"The subscription is not active."}`)
)

// subscriptionBundle is a one-item subscription-upgrade batch against p.
func subscriptionBundle(t *testing.T, p *scriptedUpgrades) testBundle {
	t.Helper()
	ctx := context.Background()
	b := setupHandler(t, p.ServeHTTP)
	b.deps.Subscriptions = newClient(t, b.url).SubscriptionUpgrades
	require.NoError(t, b.st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		batch, err := st.CreateBatch(ctx, store.NewBatch{Name: "s", Operation: "subscription_upgrade", CorrelationID: "0d9a4c1e-3f8b-4a5d-8c2e-7b6a5f4e3d2c"},
			store.Items([]store.NewItem{{LineNumber: 2, CustomerID: exCustomer, SubscriptionID: exSubscription}}))
		if err != nil {
			return err
		}
		ids, err := st.ItemIDs(ctx, batch.ID)
		b.itemID = ids[0]
		return err
	}))
	return b
}

// performs runs n perform_subscription_upgrade attempts, each with a fresh
// rate budget (a 429 would otherwise hold the next one back).
func (b testBundle) performs(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{})
	require.NoError(t, err)
	w := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, jobs.NewSubscriptionUpgradeWorker(b.deps))
	for range n {
		_, err = b.pool.Exec(ctx, `delete from rate_buckets`)
		require.NoError(t, err)
		b.deps.Governor, err = ratelimit.New(b.st, ratelimit.DefaultLimits(), 1, 0.2)
		require.NoError(t, err)
		tx, err := b.pool.Begin(ctx)
		require.NoError(t, err)
		_, _ = w.Work(rivertest.WorkContext(ctx, client), t, tx, jobs.SubscriptionUpgradeArgs{ItemID: b.itemID}, nil)
		require.NoError(t, tx.Commit(ctx))
	}
}

// A lost answer, then a 429, then the answer: one list, one MS-RequestId,
// the same body every time, and the item completed with the result.
func TestSubscriptionUpgradeRepeatKeepsRequestAndList(t *testing.T) {
	t.Parallel()
	p := &scriptedUpgrades{answers: []func(http.ResponseWriter){lost, throttled, upgraded}}
	b := subscriptionBundle(t, p)
	b.performs(t, 3)

	require.Equal(t, 1, p.lists, "the upgrades were listed once: a repeat sends the stored request")
	require.Len(t, p.ids, 3)
	for i := range p.ids {
		require.Equal(t, p.ids[0], p.ids[i], "perform %d under the first MS-RequestId", i+1)
		require.Equal(t, p.bodies[0], p.bodies[i], "perform %d with the same body", i+1)
	}
	require.True(t, strings.Contains(p.bodies[0], exOffer), p.bodies[0])
	it := b.item(t)
	require.Equal(t, upgrade.StatusCompleted, it.Status)
	require.Equal(t, "2add5a61-3b8e-4f3e-8a54-0c6bd1b3d1a0", it.UpgradeID)
	require.Equal(t, 1, it.CreateRequestSeq, "moved on once, after the answer")
	require.Nil(t, it.CreateBody, "the prepared request is void once answered")
}

// 800012 to the repeat of an unanswered perform may be the perform's own
// work: the item is flagged for a person, neither failed nor ineligible.
func TestSubscriptionUpgradeNotActiveAfterLostAnswerIsUnconfirmed(t *testing.T) {
	t.Parallel()
	p := &scriptedUpgrades{answers: []func(http.ResponseWriter){lost, notActive}}
	b := subscriptionBundle(t, p)
	b.performs(t, 3)

	require.Len(t, p.ids, 2, "nothing is sent once the item is flagged")
	require.Equal(t, p.ids[0], p.ids[1])
	require.Equal(t, 1, p.lists)
	it := b.item(t)
	require.Equal(t, upgrade.StatusInProgress, it.Status)
	require.Equal(t, jobs.CodeOutcomeUnconfirmed, it.ErrorCode)
	require.Contains(t, it.ErrorMessage, "800012")
	require.True(t, it.Stuck)
}

// Without an earlier unanswered perform, 800012 is Partner Center's
// refusal: the item fails with it.
func TestSubscriptionUpgradeNotActiveOnFirstPerformFails(t *testing.T) {
	t.Parallel()
	p := &scriptedUpgrades{answers: []func(http.ResponseWriter){notActive}}
	b := subscriptionBundle(t, p)
	b.performs(t, 1)
	it := b.item(t)
	require.Equal(t, upgrade.StatusFailed, it.Status)
	require.Equal(t, "800012", it.ErrorCode)
}
