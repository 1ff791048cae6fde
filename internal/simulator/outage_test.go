package simulator_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestOutageWindowsTakeEndpointsAwayAndChangeNoOutcome(t *testing.T) {
	t.Parallel()
	o, err := simulator.ParseScenario([]byte(`
outages:
  - {from: 10s, to: 20s, answer: "503", retry_after: 3s}
  - {from: 30s, to: 40s, scope: token, answer: "429", retry_after: 7s}
`))
	require.NoError(t, err)
	require.Len(t, o.Outages, 2)
	require.Equal(t, simulator.OutageAll, o.Outages[0].Scope, "all by default")
	customer := uuid.NewString()
	o.Succeeding = []string{customer}
	b := setup(t, o)
	token := b.userToken(t)
	before := b.eligibility(t, token, customer)

	// From 10s to 20s Partner Center answers 503 without doing anything.
	b.clock.Advance(12 * time.Second)
	res := b.post(t, "/v1/productUpgrades", token, upgradeBody(customer))
	res.requireFault(t, http.StatusServiceUnavailable, "503")
	require.Equal(t, "3", res.header.Get("Retry-After"))
	require.Empty(t, b.sim.Upgrades(), "no work during the outage")
	tokRes := b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"}, "scope": {"x/.default"}})
	tokRes.aad(t, http.StatusServiceUnavailable, "temporarily_unavailable")

	// Afterwards the same request does the work, with the same outcome.
	b.clock.Advance(10 * time.Second)
	require.Equal(t, before, b.eligibility(t, token, customer))
	b.create(t, token, customer)
	require.Len(t, b.sim.Upgrades(), 1)

	// From 30s to 40s only the token endpoint is away, throttling.
	b.clock.Advance(10 * time.Second)
	tokRes = b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"}, "scope": {"x/.default"}})
	tokRes.aad(t, http.StatusTooManyRequests, "temporarily_unavailable")
	require.Equal(t, "7", tokRes.header.Get("Retry-After"))
	b.eligibility(t, token, uuid.NewString()) // Partner Center itself answers
	require.Equal(t, 3, b.sim.Stats().Totals.OutageRequests)
}

func TestStartedOutageResetsEveryRequestUntilEnded(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	token := b.userToken(t)
	require.NoError(t, b.sim.StartOutage(simulator.Outage{Scope: simulator.OutageAll, Answer: simulator.AnswerReset}))
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/v1/productUpgrades/eligibility", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	_, err = b.srv.Client().Do(req)
	require.Error(t, err, "connection closed without an answer")
	b.sim.EndOutage()
	b.eligibility(t, token, uuid.NewString())
	require.Equal(t, 1, b.sim.Stats().Totals.OutageRequests)

	require.ErrorContains(t, b.sim.StartOutage(simulator.Outage{Scope: simulator.OutageAll, Answer: simulator.Answer429}), "token only")
	_, err = simulator.ParseScenario([]byte("outages:\n  - {from: 5s, to: 1s}\n"))
	require.ErrorContains(t, err, "Outages[0]")
}
