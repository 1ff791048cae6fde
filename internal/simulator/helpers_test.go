package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// Wire shapes as a client sees them, decoded independently of the package.

type apiFault struct {
	Code        json.Number       `json:"code"`
	Description string            `json:"description"`
	Data        []json.RawMessage `json:"data"`
	Source      string            `json:"source"`
}

type eligibility struct {
	CustomerID    string `json:"customerId"`
	ProductFamily string `json:"productFamily"`
	IsEligible    bool   `json:"isEligible"`
	UpgradeID     string `json:"upgradeId"`
	Reason        string `json:"reason"`
	Attributes    struct {
		ObjectType string `json:"objectType"`
	} `json:"attributes"`
}

type errorDetails struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

type product struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type lineItem struct {
	SourceProduct product       `json:"sourceProduct"`
	TargetProduct product       `json:"targetProduct"`
	UpgradedDate  *string       `json:"upgradedDate"`
	Status        string        `json:"status"`
	ErrorDetails  *errorDetails `json:"errorDetails"`
}

type upgradeStatus struct {
	ID            string        `json:"id"`
	ProductFamily string        `json:"productFamily"`
	Status        string        `json:"status"`
	LineItems     []lineItem    `json:"lineItems"`
	ErrorDetails  *errorDetails `json:"errorDetails"`
	Attributes    struct {
		ObjectType string `json:"objectType"`
	} `json:"attributes"`
}

type aadError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
}

// clock is a settable simulated clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	sim   *simulator.Simulator
	srv   *httptest.Server
	clock *clock
}

// setup starts a simulator over real HTTP, running on a settable clock.
func setup(t *testing.T, opts simulator.Options) *testBundle {
	t.Helper()
	b := &testBundle{clock: newClock()}
	opts.Now = b.clock.Now
	sim, err := simulator.New(opts)
	require.NoError(t, err)
	b.sim = sim
	b.srv = httptest.NewServer(sim)
	t.Cleanup(b.srv.Close)
	return b
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) fault(t *testing.T) apiFault {
	t.Helper()
	var f apiFault
	require.NoError(t, json.Unmarshal(r.body, &f), "body: %s", r.body)
	return f
}

// requireFault checks a standard Partner Center error response.
func (r result) requireFault(t *testing.T, status int, code string) apiFault {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Contains(t, r.header.Get("Content-Type"), "application/json")
	f := r.fault(t)
	require.Equal(t, code, f.Code.String())
	require.NotEmpty(t, f.Description)
	require.NotNil(t, f.Data, "data must be present")
	require.Equal(t, "PartnerFD", f.Source)
	return f
}

func (r result) aad(t *testing.T, status int, errCode string) aadError {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	var e aadError
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	require.Equal(t, errCode, e.Error)
	require.Regexp(t, `^AADSTS\d+: `, e.ErrorDescription)
	require.Len(t, e.ErrorCodes, 1)
	return e
}

func (b *testBundle) do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{status: resp.StatusCode, header: resp.Header, body: body}
}

// post sends a JSON (or raw string) body with a bearer token and extra
// headers given as name, value pairs.
func (b *testBundle) post(t *testing.T, path, token string, body any, headers ...string) result {
	t.Helper()
	var raw []byte
	switch v := body.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		var err error
		raw, err = json.Marshal(v)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(t, req)
}

// form posts a form to a token endpoint.
func (b *testBundle) form(t *testing.T, path string, values url.Values, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(values.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(t, req)
}

const tenant = "contoso.onmicrosoft.com"

// userToken returns an app+user access token from a v2 refresh grant.
func (b *testBundle) userToken(t *testing.T) string {
	t.Helper()
	res := b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {"consent-" + uuid.NewString()},
		"client_id":     {"app"},
		"client_secret": {"secret"},
		"scope":         {"https://api.partnercenter.microsoft.com/.default"},
	})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(res.body, &tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// appToken returns an app-only access token from a v1 client credentials grant.
func (b *testBundle) appToken(t *testing.T) string {
	t.Helper()
	res := b.form(t, "/"+tenant+"/oauth2/token", url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"app"},
		"client_secret": {"secret"},
		"resource":      {"https://graph.windows.net"},
	})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(res.body, &tok))
	return tok.AccessToken
}

func upgradeBody(customerID string) map[string]string {
	return map[string]string{"customerId": customerID, "productFamily": "Azure"}
}

func (b *testBundle) eligibility(t *testing.T, token, customerID string) eligibility {
	t.Helper()
	res := b.post(t, "/v1/productUpgrades/eligibility", token, upgradeBody(customerID))
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var e eligibility
	require.NoError(t, json.Unmarshal(res.body, &e))
	return e
}

// create creates an upgrade and returns its id from the Location header.
func (b *testBundle) create(t *testing.T, token, customerID string, headers ...string) string {
	t.Helper()
	res := b.post(t, "/v1/productUpgrades", token, upgradeBody(customerID), headers...)
	require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
	loc := res.header.Get("Location")
	require.Regexp(t, `^productUpgrades/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, loc)
	return strings.TrimPrefix(loc, "productUpgrades/")
}

func (b *testBundle) status(t *testing.T, token, upgradeID, customerID string) upgradeStatus {
	t.Helper()
	res := b.post(t, "/v1/productUpgrades/"+upgradeID+"/status", token, upgradeBody(customerID))
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var st upgradeStatus
	require.NoError(t, json.Unmarshal(res.body, &st))
	return st
}

// eligibleCustomer returns a fresh customer id whose predicted outcome
// satisfies want.
func eligibleCustomer(t *testing.T, sim *simulator.Simulator, want func(simulator.Outcome) bool) string {
	t.Helper()
	for range 10000 {
		id := uuid.NewString()
		if want(sim.Predict(id)) {
			return id
		}
	}
	t.Fatal("no customer with the wanted outcome")
	return ""
}
