package partnercenter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClient_errorAnswers sends a real request for each kind of failure a
// server or network can produce and checks how the client classifies it.
func TestClient_errorAnswers(t *testing.T) {
	t.Parallel()

	jsonAnswer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, []byte(body)) }
	}
	fixtureAnswer := func(status int, contentType, name string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write(fixture(t, name))
		}
	}
	// hijacked writes raw bytes on the connection and closes it, with
	// linger 0 (a TCP reset) when reset is set.
	hijacked := func(raw string, reset bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			_, _ = buf.WriteString(raw)
			_ = buf.Flush()
			if tcp, ok := conn.(*net.TCPConn); ok && reset {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
		}
	}

	tests := []struct {
		name       string
		handler    http.HandlerFunc
		timeout    time.Duration // client timeout; 5 s when zero
		status     int
		code       string
		desc       string // substring of the error text
		retryAfter time.Duration
		transport  bool
		decode     bool
		retryable  bool
		terminal   bool
		auth       bool
		conflict   bool
	}{
		{
			name: "BadRequestErrorBody", handler: fixtureAnswer(400, "application/json", "error_bad_request.json"),
			status: 400, code: "800090", desc: "Subscription quantity cannot be decreased.", terminal: true,
		},
		{
			name: "Unauthorized", status: 401, code: "http_401", auth: true,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				w.WriteHeader(http.StatusUnauthorized)
			},
		},
		{
			name:    "ForbiddenAppOnly",
			handler: jsonAnswer(403, `{"code":900329,"description":"This resource doesn't support application-only authentication.","source":"PartnerFD"}`),
			status:  403, code: "900329", desc: "application-only", auth: true, terminal: true,
		},
		{
			name:    "NotFound",
			handler: jsonAnswer(404, `{"code":900106,"description":"No upgrade request found.","data":[],"source":"PartnerFD"}`),
			status:  404, code: "900106", desc: "No upgrade request found.", terminal: true,
		},
		{
			name:    "ConflictUpgradeInProgress",
			handler: jsonAnswer(409, `{"code":900109,"description":"An upgrade 42d075a4 for this customer is already in progress."}`),
			status:  409, code: "900109", desc: "already in progress", conflict: true,
		},
		{
			name: "TooManyRequestsSeconds", status: 429, code: "http_429", retryAfter: 57 * time.Second, retryable: true,
			desc: "Rate limit is exceeded",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "57")
				fixtureAnswer(429, "application/json", "error_throttled.json")(w, nil)
			},
		},
		{
			name: "TooManyRequestsHTTPDate", status: 429, code: "http_429", retryAfter: 90 * time.Second, retryable: true,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", "Fri, 29 Jan 2016 20:42:26 GMT")
				w.Header().Set("Retry-After", "Fri, 29 Jan 2016 20:43:56 GMT")
				fixtureAnswer(429, "application/json", "error_throttled.json")(w, nil)
			},
		},
		{
			name:    "InternalServerError",
			handler: jsonAnswer(500, `{"code":800003,"description":"Unexpected service error."}`),
			status:  500, code: "800003", desc: "Unexpected service error.", retryable: true,
		},
		{
			name:    "ServiceUnavailableNoBody",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
			status:  503, code: "http_503", desc: "HTTP 503 Service Unavailable", retryable: true,
		},
		{
			name:    "HTMLErrorPage",
			handler: fixtureAnswer(502, "text/html", "error_unexpected.html"),
			status:  502, code: "http_502", desc: "502 - Web server received an invalid response", retryable: true,
		},
		{
			name:    "MalformedJSONSuccess",
			handler: jsonAnswer(200, `{"customerId":"c","isEligible":tru`),
			status:  200, code: "decode", desc: "cannot decode response body", decode: true,
		},
		{
			name:    "EmptySuccessBody",
			handler: jsonAnswer(200, ``),
			status:  200, code: "decode", desc: "empty body", decode: true,
		},
		{
			name: "TruncatedBody", status: 200, code: "transport", transport: true, retryable: true,
			handler: hijacked("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"customerId\":\"c\",", false),
			desc:    "unexpected EOF",
		},
		{
			name: "BodySlowerThanClientTimeout", status: 200, code: "transport", transport: true, retryable: true,
			timeout: 300 * time.Millisecond,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(`{"customerId":`))
				_ = http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			},
			desc: "read response body",
		},
		{
			name: "ConnectionReset", code: "transport", transport: true, retryable: true,
			handler: hijacked("", true),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("/v1/productUpgrades/eligibility", tt.handler)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			hc := srv.Client()
			hc.Timeout = timeout
			client, err := NewClient(hc, WithBaseURL(srv.URL))
			require.NoError(t, err)

			_, resp, err := client.ProductUpgrades.Eligibility(t.Context(), Call{RequestID: "req-1"}, ProductUpgradesRequest{CustomerID: "c"})
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Equal(t, "req-1", resp.RequestID)
			if !tt.transport {
				require.Equal(t, tt.status, resp.Status())
			}
			require.Contains(t, err.Error(), tt.desc)
			require.Equal(t, tt.code, ErrorCode(err))
			require.Equal(t, tt.retryable, IsRetryable(err), "IsRetryable")
			require.Equal(t, tt.terminal, IsTerminal(err), "IsTerminal")
			require.Equal(t, tt.auth, IsAuth(err), "IsAuth")
			require.Equal(t, tt.conflict, IsConflict(err), "IsConflict")
			require.False(t, IsTokenFailure(err))
			d, limited := IsRateLimited(err)
			require.Equal(t, tt.retryAfter, d)
			require.Equal(t, tt.retryAfter > 0, limited)

			var te *TransportError
			require.Equal(t, tt.transport, errors.As(err, &te), "TransportError")
			require.Equal(t, tt.decode, errors.Is(err, ErrDecode), "ErrDecode")
			if pcErr := asError(err); pcErr != nil {
				require.Equal(t, OpProductUpgradeEligibility, pcErr.Op)
				require.NotEmpty(t, pcErr.RequestID) // the server's echo when it sent one
			}
		})
	}
}

// TestClient_timeouts checks that both the *http.Client timeout and the
// caller's context cut a request short.
func TestClient_timeouts(t *testing.T) {
	t.Parallel()

	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}

	t.Run("HTTPClientTimeout", func(t *testing.T) {
		t.Parallel()
		_, mux, srv := setup(t)
		mux.HandleFunc("/v1/customers/{c}/subscriptions/{s}/transitions", hang)
		hc := srv.Client()
		hc.Timeout = 100 * time.Millisecond
		client, err := NewClient(hc, WithBaseURL(srv.URL+baseURLPath))
		require.NoError(t, err)

		start := time.Now()
		_, resp, err := client.Transitions.List(t.Context(), Call{}, "c", "s", "")
		require.Less(t, time.Since(start), 5*time.Second)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		var netErr net.Error
		require.ErrorAs(t, err, &netErr)
		require.True(t, netErr.Timeout())
		require.True(t, IsRetryable(err))
		require.Equal(t, "transport", ErrorCode(err))
		require.Equal(t, 0, resp.Status())
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		client, mux, _ := setup(t)
		arrived := make(chan struct{})
		mux.HandleFunc("/v1/customers/{c}/subscriptions/{s}/upgrades", func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			hang(w, r)
		})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		start := time.Now()
		_, resp, err := client.SubscriptionUpgrades.List(ctx, Call{}, "c", "s")
		require.Less(t, time.Since(start), 5*time.Second)
		require.ErrorIs(t, err, context.Canceled)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, OpSubscriptionUpgradeList, te.Op)
		require.NotNil(t, resp)
		require.Equal(t, 0, resp.Status())
	})

	t.Run("ContextAlreadyDone", func(t *testing.T) {
		t.Parallel()
		client, _, _ := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, _, err := client.Transitions.Eligibilities(ctx, Call{}, "c", "s", "")
		require.ErrorIs(t, err, context.Canceled)
		require.Contains(t, fmt.Sprint(err), OpTransitionEligibility)
	})
}
