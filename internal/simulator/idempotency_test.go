package simulator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestRepeatedRequestIDReplaysCreate(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	b := setup(t, opts)
	tok := b.userToken(t)
	requestID := uuid.NewString()

	first := b.create(t, tok, customer, "MS-RequestId", requestID)
	// A retry after a timeout: same id, same body, even with another path
	// casing and a new correlation id.
	res := b.post(t, "/v1/productupgrades", tok, upgradeBody(customer),
		"MS-RequestId", requestID, "MS-CorrelationId", "aaaa0000-bb11-2222-33cc-444444dddddd")
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	require.Equal(t, "productUpgrades/"+first, res.header.Get("Location"))
	require.Empty(t, res.body)
	require.Equal(t, requestID, res.header.Get("MS-RequestId"))
	require.Equal(t, "aaaa0000-bb11-2222-33cc-444444dddddd", res.header.Get("MS-CorrelationId"))

	require.Equal(t, 1, b.sim.CreatedCount(customer))
	req := b.sim.Requests()
	require.Equal(t, 1, req[simulator.OpProductUpgradeCreate])
	require.Equal(t, 1, req[simulator.OpProductUpgradeCreate+"_replayed"])

	// A new request id executes: the upgrade is in progress.
	b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer), "MS-RequestId", uuid.NewString()).
		requireFault(t, http.StatusConflict, "900109")
	require.Equal(t, 2, b.sim.Requests()[simulator.OpProductUpgradeCreate])
}

func TestRepeatedRequestIDWithOtherBodyConflicts(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	one, two := uuid.NewString(), uuid.NewString()
	opts.Succeeding = []string{one, two}
	b := setup(t, opts)
	tok := b.userToken(t)
	requestID := uuid.NewString()

	b.create(t, tok, one, "MS-RequestId", requestID)
	f := b.post(t, "/v1/productUpgrades", tok, upgradeBody(two), "MS-RequestId", requestID).
		requireFault(t, http.StatusConflict, "409")
	require.Contains(t, f.Description, requestID)
	require.Zero(t, b.sim.CreatedCount(two))

	// Reusing it for another operation conflicts as well.
	b.post(t, "/v1/productUpgrades/eligibility", tok, upgradeBody(one), "MS-RequestId", strings.ToUpper(requestID)).
		requireFault(t, http.StatusConflict, "409")
	require.Equal(t, 0, b.sim.Requests()[simulator.OpProductUpgradeCreate+"_replayed"])
}

func TestReplayKeepsErrorsAndExpires(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	b := setup(t, opts)
	tok := b.userToken(t)

	first := b.create(t, tok, customer)
	requestID := uuid.NewString()
	f := b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer), "MS-RequestId", requestID).
		requireFault(t, http.StatusConflict, "900109")
	require.Contains(t, f.Description, first)

	// Once the upgrade completes a fresh call would get 400/900110, but the
	// stored answer for the id is replayed.
	b.clock.Advance(opts.MaxDuration)
	b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer), "MS-RequestId", requestID).
		requireFault(t, http.StatusConflict, "900109")

	// A rejected token is not stored: the retry with a valid token runs.
	other := uuid.NewString()
	authID := uuid.NewString()
	b.post(t, "/v1/productUpgrades/eligibility", "bogus", upgradeBody(other), "MS-RequestId", authID).
		requireFault(t, http.StatusUnauthorized, "400")
	res := b.post(t, "/v1/productUpgrades/eligibility", tok, upgradeBody(other), "MS-RequestId", authID)
	require.Equal(t, http.StatusOK, res.status)

	// Ids are remembered for 24 hours.
	b.clock.Advance(24 * time.Hour)
	tok = b.userToken(t)
	b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer), "MS-RequestId", requestID).
		requireFault(t, http.StatusBadRequest, "900110")
}
