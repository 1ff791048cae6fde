package partnercenter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// memoryStore is a RefreshTokenStore shared by the "replicas" of a test.
type memoryStore struct {
	mu      sync.Mutex
	token   string
	saves   []string
	saveErr error
}

func (s *memoryStore) Load(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, nil
}

func (s *memoryStore) Save(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveErr != nil {
		return s.saveErr
	}
	s.token = token
	s.saves = append(s.saves, token)
	return nil
}

func (s *memoryStore) get() (string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, append([]string(nil), s.saves...)
}

// rotatingTokenServer is an Entra stand-in that rotates refresh tokens
// rt1 -> rt2 -> rt3 ... and rejects a token once it has been rotated, with
// invalid_grant. Every access token lives one second; the tests move their
// clock past that before each call, so every API call refreshes.
type rotatingTokenServer struct {
	mu      sync.Mutex
	current int      // the only valid refresh token is "rt<current>"
	used    []string // refresh tokens presented, in order
}

func (s *rotatingTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := r.PostForm.Get("refresh_token")
	s.used = append(s.used, rt)
	w.Header().Set("Content-Type", "application/json")
	if rt != fmt.Sprintf("rt%d", s.current) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"AADSTS70000: Provided grant is invalid or malformed. Token %s was already redeemed.","error_codes":[70000]}`, rt)
		return
	}
	s.current++
	_, _ = fmt.Fprintf(w, `{"token_type":"Bearer","expires_in":"1","access_token":"access-%d","refresh_token":"rt%d"}`, s.current, s.current)
}

func (s *rotatingTokenServer) presented() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.used...)
}

func TestNewHTTPClient_refreshTokenStoreSharedByReplicas(t *testing.T) {
	t.Parallel()
	entra := &rotatingTokenServer{current: 1}
	tokens := httptest.NewServer(entra)
	t.Cleanup(tokens.Close)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"isEligible":true,"auth":"`+r.Header.Get("Authorization")+`"}`))
	}))
	t.Cleanup(api.Close)

	store := &memoryStore{} // empty: both replicas start from their configuration
	clock := newTestClock()
	replica := func() *Client {
		hc, err := newHTTPClient(t.Context(), Credentials{
			ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: "rt1",
			TokenURL: tokens.URL + "/t/oauth2/v2.0/token", RefreshTokenStore: store,
		}, api.Client(), clock.Now)
		require.NoError(t, err)
		c, err := NewClient(hc, WithBaseURL(api.URL))
		require.NoError(t, err)
		return c
	}
	a, b := replica(), replica()

	// Replica A refreshes with its configured rt1; Entra rotates to rt2,
	// which A saves.
	require.NoError(t, eligibility(t, a))
	stored, saves := store.get()
	require.Equal(t, "rt2", stored)
	require.Equal(t, []string{"rt2"}, saves)

	// Replica B, configured with the now redeemed rt1, loads rt2 instead.
	clock.Advance(2 * time.Second)
	require.NoError(t, eligibility(t, b))
	stored, _ = store.get()
	require.Equal(t, "rt3", stored)
	require.Equal(t, []string{"rt1", "rt2"}, entra.presented())

	// And A, whose in-memory token (rt2) is stale by now, loads rt3.
	clock.Advance(2 * time.Second)
	require.NoError(t, eligibility(t, a))
	require.Equal(t, []string{"rt1", "rt2", "rt3"}, entra.presented())

	// A replica without the store, still on rt1, is refused for good.
	hc, err := NewHTTPClient(t.Context(), Credentials{
		ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: "rt1", TokenURL: tokens.URL + "/t/oauth2/v2.0/token",
	}, api.Client())
	require.NoError(t, err)
	stale, err := NewClient(hc, WithBaseURL(api.URL))
	require.NoError(t, err)
	err = eligibility(t, stale)
	require.True(t, IsAuth(err))
	require.True(t, IsTokenFailure(err))
	require.False(t, IsRetryable(err))
	require.Equal(t, "token_invalid_grant", ErrorCode(err))
	var tokErr *TokenError
	require.ErrorAs(t, err, &tokErr)
	require.Equal(t, &TokenError{StatusCode: 400, ErrorCode: "invalid_grant", AADSTS: "AADSTS70000",
		Description: "AADSTS70000: Provided grant is invalid or malformed. Token rt1 was already redeemed."}, tokErr)
}

func TestNewHTTPClient_refreshTokenStoreSaveFails(t *testing.T) {
	t.Parallel()
	entra := &rotatingTokenServer{current: 1}
	tokens := httptest.NewServer(entra)
	t.Cleanup(tokens.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"isEligible":true}`))
	}))
	t.Cleanup(api.Close)

	store := &memoryStore{token: "rt1", saveErr: errors.New("database is down")}
	clock := newTestClock()
	hc, err := newHTTPClient(t.Context(), Credentials{
		ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: tokens.URL + "/t/oauth2/v2.0/token", RefreshTokenStore: store,
	}, api.Client(), clock.Now)
	require.NoError(t, err)
	c, err := NewClient(hc, WithBaseURL(api.URL))
	require.NoError(t, err)

	// The access token is good although rt2 could not be saved...
	require.NoError(t, eligibility(t, c))
	// ...and the next refresh uses rt2, not the store's stale rt1, after
	// saving rt2 again (which now succeeds).
	store.mu.Lock()
	store.saveErr = nil
	store.mu.Unlock()
	clock.Advance(2 * time.Second) // the access token has expired
	require.NoError(t, eligibility(t, c))
	require.Equal(t, []string{"rt1", "rt2"}, entra.presented())
	stored, saves := store.get()
	require.Equal(t, "rt3", stored)
	require.Equal(t, []string{"rt2", "rt3"}, saves)
}

// failingStore fails every Load.
type failingStore struct{}

func (failingStore) Load(context.Context) (string, error) { return "", errors.New("store unavailable") }
func (failingStore) Save(context.Context, string) error   { return nil }

func TestNewHTTPClient_refreshTokenStoreErrors(t *testing.T) {
	t.Parallel()
	_, mux, srv := setup(t)
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(http.ResponseWriter, *http.Request) {
		t.Error("the API must not be called without a token")
	})

	t.Run("LoadFails", func(t *testing.T) {
		t.Parallel()
		hc, err := NewHTTPClient(t.Context(), Credentials{
			TenantID: "t", ClientID: "c", RefreshToken: testRefreshToken, RefreshTokenStore: failingStore{},
			TokenURL: "http://127.0.0.1:1/unused/oauth2/v2.0/token",
		}, srv.Client())
		require.NoError(t, err)
		c, err := NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
		require.NoError(t, err)
		err = eligibility(t, c)
		require.ErrorContains(t, err, "refresh token store: load: store unavailable")
		require.True(t, IsRetryable(err))
		require.False(t, IsTokenFailure(err))
	})

	t.Run("NothingStoredOrConfigured", func(t *testing.T) {
		t.Parallel()
		creds := Credentials{TenantID: "t", ClientID: "c", RefreshTokenStore: &memoryStore{}, TokenURL: "http://127.0.0.1:1/x/oauth2/v2.0/token"}
		require.False(t, creds.AppOnly())
		require.NoError(t, creds.Validate(), "a store alone selects the refresh-token grant")
		hc, err := NewHTTPClient(t.Context(), creds, srv.Client())
		require.NoError(t, err)
		c, err := NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
		require.NoError(t, err)
		err = eligibility(t, c)
		require.True(t, IsTokenFailure(err))
		require.True(t, IsAuth(err))
		require.False(t, IsRetryable(err))
		require.Equal(t, "token_missing_refresh_token", ErrorCode(err))
	})
}

func TestTokenError_classification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		want      TokenError
		retryable bool
	}{
		{
			name: "InvalidGrantExpired", status: 400,
			body: `{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired.","error_codes":[70008]}`,
			want: TokenError{StatusCode: 400, ErrorCode: "invalid_grant", AADSTS: "AADSTS70008", Description: "AADSTS70008: The provided authorization code or refresh token has expired."},
		},
		{
			name: "MFARequired", status: 400,
			body: `{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication.","error_codes":[50076]}`,
			want: TokenError{StatusCode: 400, ErrorCode: "interaction_required", AADSTS: "AADSTS50076", Description: "AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication."},
		},
		{
			name: "MFARegistrationOnA503", status: 503,
			body: `{"error":"temporarily_unavailable","error_codes":[50078]}`,
			want: TokenError{StatusCode: 503, ErrorCode: "temporarily_unavailable", AADSTS: "AADSTS50078"},
		},
		{
			name: "ServerError", status: 500,
			body:      `{"error":"server_error","error_description":"AADSTS90000: try again"}`,
			want:      TokenError{StatusCode: 500, ErrorCode: "server_error", AADSTS: "AADSTS90000", Description: "AADSTS90000: try again"},
			retryable: true,
		},
		{
			name: "Throttled", status: 429, body: `{"error":"temporarily_unavailable"}`,
			want: TokenError{StatusCode: 429, ErrorCode: "temporarily_unavailable", RetryAfter: DefaultRetryAfter}, retryable: true,
		},
		{
			name: "Timeout", status: 408, body: `<html>timeout</html>`,
			want: TokenError{StatusCode: 408}, retryable: true,
		},
		{
			name: "GatewayHTMLPage", status: 502, body: `<html><title>Bad gateway</title></html>`,
			want: TokenError{StatusCode: 502}, retryable: true,
		},
		{
			name: "InvalidClient", status: 401, body: `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`,
			want: TokenError{StatusCode: 401, ErrorCode: "invalid_client", AADSTS: "AADSTS7000215", Description: "AADSTS7000215: Invalid client secret provided."},
		},
		{
			name: "ErrorOnA200", status: 200, body: `{"error":"invalid_grant"}`,
			want: TokenError{StatusCode: 200, ErrorCode: "invalid_grant"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tokens, _ := tokenServer(t, tt.status, tt.body)
			for _, creds := range []Credentials{
				{ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken, TokenURL: tokens.URL + "/t/oauth2/v2.0/token"},
				{ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: tokens.URL + "/t/oauth2/v2.0/token"}, // app-only
			} {
				hc, err := NewHTTPClient(t.Context(), creds, nil)
				require.NoError(t, err)
				_, err = hc.Get(tokens.URL + "/api")
				require.Error(t, err)
				var tokErr *TokenError
				require.ErrorAs(t, err, &tokErr, creds.AppOnly())
				require.Equal(t, tt.want, *tokErr, "app-only %v", creds.AppOnly())
				require.Equal(t, tt.retryable, tokErr.Retryable())
				require.Equal(t, tt.retryable, IsRetryable(&TransportError{Op: "x", Err: err}))
				require.True(t, IsAuth(err))
				require.True(t, IsTokenFailure(err))
			}
		})
	}
}

// TestErrors_neverCarrySecrets drives every kind of failure through a client
// whose token endpoint and API echo what they were sent, and checks that no
// access token, refresh token or client secret reaches an error string.
func TestErrors_neverCarrySecrets(t *testing.T) {
	t.Parallel()
	const (
		secret       = "Sup3r-s3cret~client.value"
		refreshToken = "0.AAAArefresh-token-value-0123456789"
		accessToken  = "access-token-value-9876543210"
	)
	secrets := []string{secret, refreshToken, accessToken}

	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", errors.Unwrap(err))} {
			for _, s := range secrets {
				require.NotContains(t, text, s)
			}
		}
	}

	// Token endpoint that echoes the whole form, in the description, the
	// error code and an unknown member.
	echoTokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form := r.PostForm.Encode()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":"invalid_grant %s","error_description":"AADSTS50078: bad request: %s secret %s token %s","echo":%q}`,
			r.PostForm.Get("client_secret"), form, r.PostForm.Get("client_secret"), r.PostForm.Get("refresh_token"), form)
	}))
	t.Cleanup(echoTokens.Close)

	// Token endpoint that works, for the API and transport cases.
	goodTokens, _ := tokenServer(t, http.StatusOK,
		`{"access_token":"`+accessToken+`","token_type":"Bearer","expires_in":3600,"refresh_token":"`+refreshToken+`"}`)

	// API that echoes the Authorization header in every place it can.
	echoAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		bare := strings.TrimPrefix(auth, "Bearer ")
		w.Header().Set("MS-RequestId", bare)
		w.Header().Set("MS-CorrelationId", auth)
		switch r.URL.Query().Get("kind") {
		case "html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprintf(w, "<html><title>%s</title><body>Authorization: %s</body></html>", bare, auth)
		case "throttle":
			w.Header().Set("Retry-After", bare)
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, `{"statusCode":429,"message":"%s"}`, bare)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"code":"%s","description":"token %s rejected; header was %s","source":"%s"}`, bare, bare, auth, bare)
		}
	}))
	t.Cleanup(echoAPI.Close)

	newClient := func(t *testing.T, tokenURL string, refresh bool, apiURL string, timeout time.Duration) *Client {
		creds := Credentials{ClientID: "app-id", ClientSecret: secret, TokenURL: tokenURL}
		if refresh {
			creds.RefreshToken = refreshToken
		}
		hc, err := NewHTTPClient(t.Context(), creds, &http.Client{Timeout: timeout})
		require.NoError(t, err)
		c, err := NewClient(hc, WithBaseURL(apiURL))
		require.NoError(t, err)
		return c
	}

	t.Run("TokenEndpointEchoesRefreshGrant", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, echoTokens.URL+"/t/oauth2/token", true, echoAPI.URL, 5*time.Second)
		err := eligibility(t, c)
		check(t, err)
		require.True(t, IsTokenFailure(err))
	})
	t.Run("TokenEndpointEchoesClientCredentials", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, echoTokens.URL+"/t/oauth2/v2.0/token", false, echoAPI.URL, 5*time.Second)
		err := eligibility(t, c)
		check(t, err)
		require.True(t, IsTokenFailure(err))
	})
	for _, kind := range []string{"json", "html", "throttle"} {
		t.Run("APIEchoesAuthorization_"+kind, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, goodTokens.URL+"/t/oauth2/v2.0/token", true, echoAPI.URL, 5*time.Second)
			r, err := c.newRequest(t.Context(), http.MethodGet, "x?kind="+kind, nil, Call{})
			require.NoError(t, err)
			_, err = c.do(r, "test", nil)
			check(t, err)
			require.False(t, IsTokenFailure(err))
		})
	}
	t.Run("TransportError", func(t *testing.T) {
		t.Parallel()
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		c := newClient(t, goodTokens.URL+"/t/oauth2/v2.0/token", true, dead.URL, 5*time.Second)
		err := eligibility(t, c)
		check(t, err)
		var te *TransportError
		require.ErrorAs(t, err, &te)
	})
	t.Run("TokenEndpointUnreachable", func(t *testing.T) {
		t.Parallel()
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		c := newClient(t, dead.URL+"/t/oauth2/v2.0/token", true, echoAPI.URL, 5*time.Second)
		err := eligibility(t, c)
		check(t, err)
		require.True(t, IsRetryable(err))
	})
}

func TestNewHTTPClient_resource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		path         string
		resource     string
		scope        string
		wantResource string
		wantScope    string
	}{
		{name: "V2SendsScope", path: "/t/oauth2/v2.0/token", wantScope: DefaultScope},
		{name: "V1SendsResource", path: "/t/oauth2/token", wantResource: Resource},
		{name: "V1ResourceOverridden", path: "/t/oauth2/token", resource: "https://graph.windows.net", wantResource: "https://graph.windows.net"},
		{name: "V1WithScope", path: "/t/oauth2/token", scope: "openid", wantResource: Resource, wantScope: "openid"},
		{name: "V2WithExplicitResource", path: "/t/oauth2/v2.0/token", resource: Resource, wantResource: Resource, wantScope: DefaultScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, refresh := range []string{"", testRefreshToken} {
				tokens, seen := tokenServer(t, http.StatusOK, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
				hc, err := NewHTTPClient(t.Context(), Credentials{
					ClientID: "c", ClientSecret: testClientSecret, RefreshToken: refresh,
					TokenURL: tokens.URL + tt.path, Resource: tt.resource, Scope: tt.scope,
				}, nil)
				require.NoError(t, err)
				resp, err := hc.Get(tokens.URL + "/api")
				require.NoError(t, err)
				_ = resp.Body.Close()
				form := receiveToken(t, seen).Form
				require.Equal(t, tt.wantResource, form.Get("resource"), "refresh %q", refresh)
				require.Equal(t, tt.wantScope, form.Get("scope"), "refresh %q", refresh)
			}
		})
	}
}

func TestCredentials_AppOnlyAndRequiresUserToken(t *testing.T) {
	t.Parallel()
	require.True(t, Credentials{ClientID: "c", ClientSecret: "s"}.AppOnly())
	require.False(t, Credentials{ClientID: "c", RefreshToken: "r"}.AppOnly())
	require.False(t, Credentials{ClientID: "c", RefreshTokenStore: &memoryStore{}}.AppOnly())

	for _, op := range []string{OpProductUpgradeEligibility, OpProductUpgradeCreate, OpProductUpgradeStatus} {
		require.True(t, RequiresUserToken(op), op)
	}
	for _, op := range []string{OpSubscriptionUpgradeList, OpSubscriptionUpgradePerform, OpTransitionEligibility, OpTransitionCreate, OpTransitionList, "", "other"} {
		require.False(t, RequiresUserToken(op), op)
	}

	out := Credentials{ClientID: "c", RefreshTokenStore: &memoryStore{token: testRefreshToken}, Resource: Resource}.String()
	require.Contains(t, out, "RefreshTokenStore:true")
	require.NotContains(t, out, testRefreshToken)
}
