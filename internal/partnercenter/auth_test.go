package partnercenter

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testClientSecret = "app-secret-value"
	testRefreshToken = "refresh-token-value"
)

// tokenRequest is what the fake token endpoint saw.
type tokenRequest struct {
	Path          string
	Form          url.Values
	Authorization string
	ContentType   string
}

// tokenServer starts a fake Entra token endpoint. Each request is passed to
// the returned channel and answered with the next body from answers (the
// last one repeats), as JSON with the given status.
func tokenServer(t *testing.T, status int, answers ...string) (*httptest.Server, <-chan tokenRequest) {
	t.Helper()
	ch := make(chan tokenRequest, 16)
	next := make(chan string, len(answers))
	for _, a := range answers {
		next <- a
	}
	last := answers[len(answers)-1]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("token request form: %v", err)
		}
		ch <- tokenRequest{Path: r.URL.Path, Form: r.PostForm, Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		body := last
		select {
		case body = <-next:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func receiveToken(t *testing.T, ch <-chan tokenRequest) tokenRequest {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the token endpoint")
		return tokenRequest{}
	}
}

// apiWithAuth returns a Client that authenticates through NewHTTPClient, and
// a channel of the Authorization headers the API server saw.
func apiWithAuth(t *testing.T, creds Credentials) (*Client, <-chan string) {
	t.Helper()
	return apiWithAuthOnClock(t, creds, time.Now)
}

// apiWithAuthOnClock is apiWithAuth with token renewals scheduled on now.
func apiWithAuthOnClock(t *testing.T, creds Credentials, now func() time.Time) (*Client, <-chan string) {
	t.Helper()
	client, mux, srv := setup(t)
	auths := make(chan string, 16)
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(w http.ResponseWriter, r *http.Request) {
		auths <- r.Header.Get("Authorization")
		writeJSON(w, http.StatusOK, []byte(`{"isEligible":true}`))
	})
	hc, err := newHTTPClient(t.Context(), creds, &http.Client{Timeout: 5 * time.Second}, now)
	require.NoError(t, err)
	client, err = NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
	require.NoError(t, err)
	return client, auths
}

func eligibility(t *testing.T, c *Client) error {
	t.Helper()
	_, _, err := c.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: testCustomerID})
	return err
}

func TestNewHTTPClient_refreshToken(t *testing.T) {
	t.Parallel()
	tokens, seen := tokenServer(t, http.StatusOK,
		`{"access_token":"at1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt2"}`)
	client, auths := apiWithAuth(t, Credentials{
		TenantID:     "contoso.onmicrosoft.com",
		ClientID:     "app-id",
		ClientSecret: testClientSecret,
		RefreshToken: testRefreshToken,
		TokenURL:     tokens.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/token",
	})

	require.NoError(t, eligibility(t, client))
	require.Equal(t, "Bearer at1", <-auths)

	tr := receiveToken(t, seen)
	require.Equal(t, "/contoso.onmicrosoft.com/oauth2/v2.0/token", tr.Path)
	require.Equal(t, "application/x-www-form-urlencoded", tr.ContentType)
	require.Empty(t, tr.Authorization, "credentials go in the form, not in basic auth")
	require.Equal(t, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {testRefreshToken},
		"client_id":     {"app-id"},
		"client_secret": {testClientSecret},
		"scope":         {DefaultScope},
	}, tr.Form)

	// The token is cached: a second call does not go back to the endpoint.
	require.NoError(t, eligibility(t, client))
	require.Equal(t, "Bearer at1", <-auths)
	select {
	case r := <-seen:
		t.Fatalf("unexpected second token request: %v", r.Form.Get("grant_type"))
	default:
	}
}

func TestNewHTTPClient_refreshTokenRotates(t *testing.T) {
	t.Parallel()
	// expires_in comes as a string, as v1 endpoints send it; the clock moves
	// past it before each call, so every API call fetches a new token.
	tokens, seen := tokenServer(t, http.StatusOK,
		`{"access_token":"at1","token_type":"Bearer","expires_in":"30","refresh_token":"rt2"}`,
		`{"access_token":"at2","token_type":"Bearer","expires_in":"30"}`,
	)
	clock := newTestClock()
	client, auths := apiWithAuthOnClock(t, Credentials{
		ClientID:     "app-id",
		RefreshToken: testRefreshToken,
		TokenURL:     tokens.URL + "/common/oauth2/v2.0/token",
		Scope:        "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
	}, clock.Now)

	require.NoError(t, eligibility(t, client))
	require.Equal(t, "Bearer at1", <-auths)
	first := receiveToken(t, seen)
	require.Equal(t, testRefreshToken, first.Form.Get("refresh_token"))
	require.Equal(t, "https://api.partnercenter.microsoft.com/user_impersonation offline_access", first.Form.Get("scope"))
	require.NotContains(t, first.Form, "client_secret", "a public client sends no secret")

	clock.Advance(30 * time.Second)
	require.NoError(t, eligibility(t, client))
	require.Equal(t, "Bearer at2", <-auths)
	require.Equal(t, "rt2", receiveToken(t, seen).Form.Get("refresh_token"))

	// The endpoint did not rotate again, so rt2 stays in use.
	clock.Advance(30 * time.Second)
	require.NoError(t, eligibility(t, client))
	require.Equal(t, "rt2", receiveToken(t, seen).Form.Get("refresh_token"))
	<-auths
}

func TestNewHTTPClient_clientCredentials(t *testing.T) {
	t.Parallel()
	tokens, seen := tokenServer(t, http.StatusOK, `{"access_token":"app-at","token_type":"Bearer","expires_in":3600}`)
	client, auths := apiWithAuth(t, Credentials{
		TenantID:     "contoso",
		ClientID:     "app-id",
		ClientSecret: testClientSecret,
		TokenURL:     tokens.URL + "/contoso/oauth2/v2.0/token",
	})

	require.NoError(t, eligibility(t, client))
	require.Equal(t, "Bearer app-at", <-auths)
	tr := receiveToken(t, seen)
	require.Empty(t, tr.Authorization)
	require.Equal(t, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {"app-id"},
		"client_secret": {testClientSecret},
		"scope":         {DefaultScope},
	}, tr.Form)
}

func TestNewHTTPClient_v1Endpoint(t *testing.T) {
	t.Parallel()

	t.Run("ClientCredentials", func(t *testing.T) {
		t.Parallel()
		tokens, seen := tokenServer(t, http.StatusOK,
			`{"access_token":"v1-at","token_type":"Bearer","expires_in":"3599","resource":"https://api.partnercenter.microsoft.com"}`)
		client, auths := apiWithAuth(t, Credentials{
			ClientID:     "app-id",
			ClientSecret: testClientSecret,
			TokenURL:     tokens.URL + "/contoso/oauth2/token",
		})
		require.NoError(t, eligibility(t, client))
		require.Equal(t, "Bearer v1-at", <-auths)
		require.Equal(t, url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {"app-id"},
			"client_secret": {testClientSecret},
			"resource":      {Resource},
		}, receiveToken(t, seen).Form)
	})

	t.Run("RefreshToken", func(t *testing.T) {
		t.Parallel()
		tokens, seen := tokenServer(t, http.StatusOK,
			`{"access_token":"v1-user-at","token_type":"Bearer","expires_in":"3599","refresh_token":"rt2"}`)
		client, auths := apiWithAuth(t, Credentials{
			ClientID:     "app-id",
			ClientSecret: testClientSecret,
			RefreshToken: testRefreshToken,
			TokenURL:     tokens.URL + "/contoso/oauth2/token/",
			Scope:        "openid",
		})
		require.NoError(t, eligibility(t, client))
		require.Equal(t, "Bearer v1-user-at", <-auths)
		require.Equal(t, url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {testRefreshToken},
			"client_id":     {"app-id"},
			"client_secret": {testClientSecret},
			"resource":      {Resource},
			"scope":         {"openid"},
		}, receiveToken(t, seen).Form)
	})
}

func TestNewHTTPClient_tokenFailure(t *testing.T) {
	t.Parallel()
	// A token endpoint that, unwisely, echoes what it was sent.
	tokens, _ := tokenServer(t, http.StatusBadRequest, fmt.Sprintf(
		`{"error":"invalid_grant","error_description":"AADSTS70008: The refresh token %s has expired. client_secret=%s","error_codes":[70008]}`,
		testRefreshToken, testClientSecret))
	client, mux, srv := setup(t)
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the API must not be called without a token")
	})
	hc, err := NewHTTPClient(t.Context(), Credentials{
		ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken,
		TokenURL: tokens.URL + "/t/oauth2/v2.0/token",
	}, srv.Client())
	require.NoError(t, err)
	client, err = NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
	require.NoError(t, err)

	_, resp, err := client.ProductUpgrades.Eligibility(t.Context(), Call{RequestID: "r1"}, ProductUpgradesRequest{CustomerID: "c"})
	require.Error(t, err)
	require.True(t, IsAuth(err))
	require.False(t, IsRetryable(err))
	require.Equal(t, "token_invalid_grant", ErrorCode(err))
	require.Equal(t, 0, resp.Status())
	require.Equal(t, "r1", resp.RequestID)
	require.Contains(t, err.Error(), "token endpoint HTTP 400, error invalid_grant: AADSTS70008")
	require.NotContains(t, err.Error(), testRefreshToken)
	require.NotContains(t, err.Error(), testClientSecret)
}

func TestNewHTTPClient_outlivesContext(t *testing.T) {
	t.Parallel()
	tokens, _ := tokenServer(t, http.StatusOK, `{"access_token":"at1","token_type":"Bearer","expires_in":3600}`)
	client, mux, srv := setup(t)
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"isEligible":true}`))
	})

	ctx, cancel := context.WithCancel(t.Context())
	hc, err := NewHTTPClient(ctx, Credentials{ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: tokens.URL + "/t/oauth2/v2.0/token"}, srv.Client())
	require.NoError(t, err)
	cancel()

	client, err = NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
	require.NoError(t, err)
	require.NoError(t, eligibility(t, client))
}

func TestNewHTTPClient_baseClient(t *testing.T) {
	t.Parallel()
	jar := &nopJar{}
	base := &http.Client{Timeout: 7 * time.Second, Jar: jar}
	hc, err := NewHTTPClient(t.Context(), Credentials{TenantID: "t", ClientID: "c", ClientSecret: "s"}, base)
	require.NoError(t, err)
	require.Equal(t, 7*time.Second, hc.Timeout)
	require.Same(t, jar, hc.Jar)

	hc, err = NewHTTPClient(t.Context(), Credentials{TenantID: "t", ClientID: "c", ClientSecret: "s"}, nil)
	require.NoError(t, err)
	require.Equal(t, DefaultHTTPTimeout, hc.Timeout)
}

type nopJar struct{}

func (*nopJar) SetCookies(*url.URL, []*http.Cookie) {}
func (*nopJar) Cookies(*url.URL) []*http.Cookie     { return nil }

func TestCredentials_Validate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		creds Credentials
		want  string // substring of the error; "" means valid
	}{
		{name: "ClientCredentials", creds: Credentials{TenantID: "t", ClientID: "c", ClientSecret: testClientSecret}},
		{name: "RefreshTokenPublicClient", creds: Credentials{TenantID: "t", ClientID: "c", RefreshToken: testRefreshToken}},
		{name: "TokenURLWithoutTenant", creds: Credentials{ClientID: "c", ClientSecret: testClientSecret, TokenURL: "https://login.example/t/oauth2/token"}},
		{name: "NoClientID", creds: Credentials{TenantID: "t", ClientSecret: testClientSecret, RefreshToken: testRefreshToken}, want: "client id is required"},
		{name: "NoTenant", creds: Credentials{ClientID: "c", ClientSecret: testClientSecret, RefreshToken: testRefreshToken}, want: "tenant id is required"},
		{name: "NoSecretNoRefreshToken", creds: Credentials{TenantID: "t", ClientID: "c"}, want: "client secret is required"},
		{name: "RelativeTokenURL", creds: Credentials{ClientID: "c", ClientSecret: testClientSecret, TokenURL: "/oauth2/token?x=" + testRefreshToken}, want: "token URL must be"},
		{name: "BadSchemeTokenURL", creds: Credentials{ClientID: "c", ClientSecret: testClientSecret, TokenURL: "ftp://x/" + testClientSecret}, want: "token URL must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.creds.Validate()
			_, newErr := NewHTTPClient(t.Context(), tt.creds, nil)
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, newErr)
				return
			}
			require.ErrorContains(t, err, tt.want)
			require.Equal(t, err, newErr)
			require.NotContains(t, err.Error(), testClientSecret)
			require.NotContains(t, err.Error(), testRefreshToken)
		})
	}
}

func TestCredentials_tokenURL(t *testing.T) {
	t.Parallel()
	require.Equal(t, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
		Credentials{TenantID: " contoso.onmicrosoft.com "}.tokenURL())
	require.Equal(t, "https://login.microsoftonline.com/a%2Fb/oauth2/v2.0/token", Credentials{TenantID: "a/b"}.tokenURL())
	require.Equal(t, "https://login.example/x", Credentials{TenantID: "ignored", TokenURL: "https://login.example/x"}.tokenURL())

	require.True(t, isV1TokenURL("https://login.microsoftonline.com/t/oauth2/token"))
	require.True(t, isV1TokenURL("https://login.microsoftonline.com/t/OAuth2/Token/"))
	require.False(t, isV1TokenURL("https://login.microsoftonline.com/t/oauth2/v2.0/token"))
	require.False(t, isV1TokenURL("http://[::1"))
}

func TestCredentials_masked(t *testing.T) {
	t.Parallel()
	creds := Credentials{
		TenantID: "tenant", ClientID: "client", ClientSecret: testClientSecret, RefreshToken: testRefreshToken,
		TokenURL: "https://login.example/t/oauth2/v2.0/token", Scope: DefaultScope,
	}

	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, creds)
		require.NotContains(t, out, testClientSecret, format)
		require.NotContains(t, out, testRefreshToken, format)
		require.Contains(t, out, "client", format)
		require.Contains(t, out, "[REDACTED]", format)
	}
	require.Contains(t, fmt.Sprintf("%v", &creds), "[REDACTED]")

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "creds", creds)
	out := buf.String()
	require.NotContains(t, out, testClientSecret)
	require.NotContains(t, out, testRefreshToken)
	require.Contains(t, out, `"client_secret":"[REDACTED]"`)
	require.Contains(t, out, `"client_id":"client"`)

	// An unset secret shows as empty, so a missing value is visible.
	require.True(t, strings.Contains(Credentials{ClientID: "c"}.String(), `ClientSecret:""`))
}
