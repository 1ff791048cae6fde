package partnercenter

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestThrottledTokenEndpointIsAskedAgainOnlyAfterRetryAfter(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "30")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":"temporarily_unavailable","error_description":"AADSTS50196: The server terminated an operation because it encountered a client request loop."}`))
	}))
	t.Cleanup(srv.Close)
	for _, creds := range []Credentials{
		{ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken, TokenURL: srv.URL + "/t/oauth2/v2.0/token"},
		{ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: srv.URL + "/t/oauth2/v2.0/token"},
	} {
		calls.Store(0)
		hc, err := NewHTTPClient(t.Context(), creds, nil)
		require.NoError(t, err)
		for i := range 5 {
			_, err = hc.Get(srv.URL + "/v1/anything")
			require.Error(t, err)
			wait, ok := TokenRetryAfter(err)
			require.True(t, ok, "call %d", i)
			require.InDelta(t, 30, wait.Seconds(), 2)
			require.True(t, IsTransient(&TransportError{Op: "x", Err: err}), "a throttled token endpoint decides nothing")
		}
		require.Equal(t, int32(1), calls.Load(), "app-only %v: one token request; the others wait for Retry-After", creds.AppOnly())
	}
}

func TestUnreachableTokenEndpointIsTransient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	for _, creds := range []Credentials{
		{ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken, TokenURL: url + "/t/oauth2/v2.0/token"},
		{ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: url + "/t/oauth2/v2.0/token"},
	} {
		hc, err := NewHTTPClient(t.Context(), creds, &http.Client{Timeout: 2 * time.Second})
		require.NoError(t, err)
		_, err = hc.Get(url + "/v1/anything")
		require.Error(t, err)
		var tokErr *TokenError
		require.ErrorAs(t, err, &tokErr)
		require.True(t, tokErr.NoAnswer)
		require.True(t, tokErr.Retryable())
		wrapped := &TransportError{Op: "x", Err: err}
		require.True(t, IsTransient(wrapped))
		require.True(t, IsTokenFailure(wrapped))
		require.NotContains(t, wrapped.Error(), testClientSecret)
		require.NotContains(t, wrapped.Error(), testRefreshToken)
	}
}

func TestIsTransient(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"503", &Error{StatusCode: 503}, true},
		{"408", &Error{StatusCode: 408}, true},
		{"reset", &TransportError{Op: "x", Err: http.ErrHandlerTimeout}, true},
		{"truncated body", ErrDecode, true},
		{"429 from Partner Center is throttling, not an outage", &RateLimitError{Err: &Error{StatusCode: 429}, RetryAfter: time.Second}, false},
		{"400", &Error{StatusCode: 400, Code: "900107"}, false},
		{"401", &Error{StatusCode: 401}, false},
		{"refresh token refused", &TransportError{Op: "x", Err: &TokenError{StatusCode: 400, ErrorCode: "invalid_grant"}}, false},
		{"token endpoint 503", &TransportError{Op: "x", Err: &TokenError{StatusCode: 503, ErrorCode: "temporarily_unavailable"}}, true},
		{"nil", nil, false},
	} {
		require.Equal(t, tt.want, IsTransient(tt.err), tt.name)
	}
}
