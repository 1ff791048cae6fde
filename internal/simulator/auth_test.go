package simulator_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestAuthRejectsMissingAndUnknownTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	body := upgradeBody("c1958bc7-3284-4952-a257-de594ee64743")

	tests := []struct {
		name   string
		header []string
		code   string
	}{
		{"no header", nil, "800001"},
		{"empty bearer", []string{"Authorization", "Bearer "}, "800001"},
		{"basic scheme", []string{"Authorization", "Basic YXBwOnNlY3JldA=="}, "800001"},
		{"unknown token", []string{"Authorization", "Bearer not-a-token"}, "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/v1/productUpgrades/eligibility", "/v1/productUpgrades", "/v1/productUpgrades/42d075a4-bfe7-43e7-af6d-7c68a57edcb4/status"} {
				res := b.post(t, path, "", body, tt.header...)
				res.requireFault(t, http.StatusUnauthorized, tt.code)
				require.Equal(t, `Bearer error="invalid_token"`, res.header.Get("WWW-Authenticate"))
				require.NotEmpty(t, res.header.Get("MS-RequestId"))
			}
		})
	}
	require.Zero(t, b.sim.CreatedCount("c1958bc7-3284-4952-a257-de594ee64743"))
}

func TestAuthAppOnlyForbidden(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	tok := b.appToken(t)
	customer := "c1958bc7-3284-4952-a257-de594ee64743"
	for _, path := range []string{"/v1/productUpgrades/eligibility", "/v1/productUpgrades", "/v1/productUpgrades/42d075a4-bfe7-43e7-af6d-7c68a57edcb4/status"} {
		f := b.post(t, path, tok, upgradeBody(customer)).requireFault(t, http.StatusForbidden, "900329")
		require.Equal(t, "This resource does not support application-only authentication.", f.Description)
	}
	require.Zero(t, b.sim.CreatedCount(customer))
	require.Equal(t, 1, b.sim.Requests()[simulator.OpProductUpgradeCreate])
}
