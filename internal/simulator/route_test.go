package simulator_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestRoutesAreCaseInsensitive(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	b := setup(t, opts)
	tok := b.userToken(t)

	// PascalCase body, as the .NET SDK sends it, and lower-case path.
	pascal := `{"CustomerId":"` + strings.ToUpper(customer) + `","ProductFamily":"azure","Attributes":{"ObjectType":"ProductUpgradeRequest"}}`
	res := b.post(t, "/v1/productupgrades/eligibility", tok, pascal)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var e eligibility
	require.NoError(t, json.Unmarshal(res.body, &e))
	require.True(t, e.IsEligible)
	require.Equal(t, "azure", e.ProductFamily, "productFamily is echoed as sent")
	require.Contains(t, string(res.body), `"isEligible":true`, "responses are camelCase")

	res = b.post(t, "/V1/PRODUCTUPGRADES/", tok, pascal)
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	id := strings.TrimPrefix(res.header.Get("Location"), "productUpgrades/")

	res = b.post(t, "/v1/ProductUpgrades/"+strings.ToUpper(id)+"/Status", tok, pascal)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var st upgradeStatus
	require.NoError(t, json.Unmarshal(res.body, &st))
	require.Equal(t, id, st.ID)
	require.Equal(t, "Azure", st.ProductFamily)

	require.Equal(t, 1, b.sim.CreatedCount(strings.ToUpper(customer)))
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	tok := b.userToken(t)

	b.post(t, "/v1/productUpgrades/42d075a4-bfe7-43e7-af6d-7c68a57edcb4/cancel", tok, "{}").requireFault(t, http.StatusNotFound, "1000")
	b.post(t, "/v2/productUpgrades", tok, "{}").requireFault(t, http.StatusNotFound, "1000")

	req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/v1/productUpgrades", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	res := b.do(t, req)
	res.requireFault(t, http.StatusMethodNotAllowed, "405")
	require.Equal(t, http.MethodPost, res.header.Get("Allow"))

	require.Equal(t, 3, b.sim.Requests()[simulator.OpUnrouted])
}

func TestTracingHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	tok := b.userToken(t)
	body := upgradeBody("c1958bc7-3284-4952-a257-de594ee64743")
	cv := regexp.MustCompile(`^[A-Za-z0-9+/]{16}\.0$`)

	res := b.post(t, "/v1/productUpgrades/eligibility", tok, body,
		"MS-RequestId", "c245d5f2-1de3-4ae0-9e42-95e38e3cb8ff",
		"MS-CorrelationId", "aaaa0000-bb11-2222-33cc-444444dddddd")
	require.Equal(t, http.StatusOK, res.status)
	require.Equal(t, "c245d5f2-1de3-4ae0-9e42-95e38e3cb8ff", res.header.Get("MS-RequestId"))
	require.Equal(t, "aaaa0000-bb11-2222-33cc-444444dddddd", res.header.Get("MS-CorrelationId"))
	require.Regexp(t, cv, res.header.Get("MS-CV"))
	require.Regexp(t, `^\d{9}$`, res.header.Get("MS-ServerId"))
	require.NotEmpty(t, res.header.Get("Date"))

	// Generated when absent, also on errors.
	for _, res := range []result{
		b.post(t, "/v1/productUpgrades/eligibility", tok, body),
		b.post(t, "/v1/productUpgrades/eligibility", "", body),
		b.post(t, "/v1/nothing", tok, body),
	} {
		_, err := uuid.Parse(res.header.Get("MS-RequestId"))
		require.NoError(t, err)
		_, err = uuid.Parse(res.header.Get("MS-CorrelationId"))
		require.NoError(t, err)
		require.Regexp(t, cv, res.header.Get("MS-CV"))
		require.NotEmpty(t, res.header.Get("MS-ServerId"))
	}
}
