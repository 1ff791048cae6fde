package partnercenter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// baseURLPath is a non-empty path prefix for the test server, so that a
// request built with an absolute path misses the handlers and fails.
const baseURLPath = "/api-root"

const testUserAgent = "orchestrator-test/1.0"

// setup starts a test server whose mux serves under baseURLPath and returns
// a Client pointed at it. The mux sees paths with the prefix stripped, such
// as "/v1/productUpgrades".
func setup(t *testing.T, opts ...ClientOption) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	root := http.NewServeMux()
	root.Handle(baseURLPath+"/", http.StripPrefix(baseURLPath, mux))
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "outside the base path", http.StatusNotFound)
	})
	srv := httptest.NewServer(root)
	t.Cleanup(srv.Close)

	opts = append([]ClientOption{WithBaseURL(srv.URL + baseURLPath), WithUserAgent(testUserAgent)}, opts...)
	client, err := NewClient(srv.Client(), opts...)
	require.NoError(t, err)
	return client, mux, srv
}

// recorded is what a test handler saw of one request.
type recorded struct {
	Method string
	Path   string // escaped, base path stripped
	Header http.Header
	Body   []byte
}

// record registers a handler for pattern that passes every request it sees
// to the returned channel, then answers with respond. Passing requests over
// a channel (not a shared variable) keeps the race detector satisfied.
func record(t *testing.T, mux *http.ServeMux, pattern string, respond http.HandlerFunc) <-chan recorded {
	t.Helper()
	ch := make(chan recorded, 16)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		ch <- recorded{Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body}
		respond(w, r)
	})
	return ch
}

// receive returns the next recorded request or fails the test.
func receive(t *testing.T, ch <-chan recorded) recorded {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the handler")
		return recorded{}
	}
}

// fixture returns the contents of testdata/name.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// writeJSON answers with status and a JSON body, plus the response headers
// Partner Center sends with every answer.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("MS-CorrelationId", "772871a9-399b-4f3b-b8c7-38f550e4f22a")
	w.Header().Set("MS-RequestId", "cb82f7d6-f0d9-44d4-82f9-f6eee6e68390")
	w.Header().Set("MS-CV", "iqOqN0FnaE2y0HcD.0")
	w.Header().Set("MS-ServerId", "030020525")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func TestNewClient(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(nil)
		require.NoError(t, err)
		require.Equal(t, "https://api.partnercenter.microsoft.com/v1/", c.BaseURL().String())
		require.Equal(t, DefaultUserAgent, c.userAgent)
		require.Empty(t, c.application)
		require.NotNil(t, c.httpClient)
		require.NotNil(t, c.ProductUpgrades)
		require.Same(t, c, c.ProductUpgrades.client)
	})

	t.Run("BaseURLs", func(t *testing.T) {
		t.Parallel()
		for raw, want := range map[string]string{
			"http://127.0.0.1:1234/prefix":        "http://127.0.0.1:1234/prefix/v1/",
			"http://127.0.0.1:1234/prefix/":       "http://127.0.0.1:1234/prefix/v1/",
			"https://example.test":                "https://example.test/v1/",
			"https://example.test/":               "https://example.test/v1/",
			" https://example.test/a/b// ":        "https://example.test/a/b/v1/",
			"https://partner.partnercenterapi.cn": "https://partner.partnercenterapi.cn/v1/",
		} {
			c, err := NewClient(nil, WithBaseURL(raw))
			require.NoError(t, err, raw)
			require.Equal(t, want, c.BaseURL().String(), raw)
		}
	})

	t.Run("InvalidBaseURLs", func(t *testing.T) {
		t.Parallel()
		for _, raw := range []string{
			"", "api.partnercenter.microsoft.com", "ftp://example.test", "https://",
			"https://user:pw@example.test", "https://example.test/?a=b", "https://example.test/#x", "http://[::1",
		} {
			_, err := NewClient(nil, WithBaseURL(raw))
			require.Error(t, err, raw)
		}
	})

	t.Run("Options", func(t *testing.T) {
		t.Parallel()
		hc := &http.Client{Timeout: time.Second}
		c, err := NewClient(hc, WithUserAgent("ua/2"), WithApplication("Upgrade Orchestrator"), nil)
		require.NoError(t, err)
		require.Same(t, hc, c.httpClient)
		require.Equal(t, "ua/2", c.userAgent)
		require.Equal(t, "Upgrade Orchestrator", c.application)

		c, err = NewClient(nil, WithUserAgent("  "))
		require.NoError(t, err)
		require.Equal(t, DefaultUserAgent, c.userAgent)
	})

	t.Run("BaseURLIsACopy", func(t *testing.T) {
		t.Parallel()
		c, err := NewClient(nil)
		require.NoError(t, err)
		c.BaseURL().Path = "/changed/"
		require.Equal(t, "/v1/", c.BaseURL().Path)
	})
}

func TestClient_newRequest(t *testing.T) {
	t.Parallel()

	c, err := NewClient(nil, WithBaseURL("http://127.0.0.1:1234/prefix"), WithUserAgent("ua/1"), WithApplication("app"))
	require.NoError(t, err)

	t.Run("ResolvesUnderBasePath", func(t *testing.T) {
		t.Parallel()
		req, err := c.newRequest(t.Context(), http.MethodPost, "productUpgrades/a%2Fb/status",
			ProductUpgradesRequest{CustomerID: "c", ProductFamily: "Azure"}, Call{RequestID: "r", CorrelationID: "k"})
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:1234/prefix/v1/productUpgrades/a%2Fb/status", req.URL.String())
		require.Equal(t, http.MethodPost, req.Method)
		require.Equal(t, "application/json", req.Header.Get("Accept"))
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		require.Equal(t, "r", req.Header.Get("MS-RequestId"))
		require.Equal(t, "k", req.Header.Get("MS-CorrelationId"))
		require.Equal(t, "en-US", req.Header.Get("X-Locale"))
		require.Equal(t, "ua/1", req.Header.Get("User-Agent"))
		require.Equal(t, "app", req.Header.Get("MS-PartnerCenter-Application"))
		require.Empty(t, req.Header.Get("Authorization"))
		body, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		require.JSONEq(t, `{"customerId":"c","productFamily":"Azure"}`, string(body))
	})

	t.Run("NoBodyNoContentType", func(t *testing.T) {
		t.Parallel()
		req, err := c.newRequest(t.Context(), http.MethodGet, "x", nil, Call{})
		require.NoError(t, err)
		require.Empty(t, req.Header.Get("Content-Type"))
		require.Nil(t, req.Body)
	})

	t.Run("AbsolutePathRejected", func(t *testing.T) {
		t.Parallel()
		_, err := c.newRequest(t.Context(), http.MethodPost, "/v1/productUpgrades", nil, Call{})
		require.Error(t, err)
	})

	t.Run("UnencodableBody", func(t *testing.T) {
		t.Parallel()
		_, err := c.newRequest(t.Context(), http.MethodPost, "x", map[string]any{"f": func() {}}, Call{})
		require.Error(t, err)
	})
}

func TestClient_headersRandomWhenEmpty(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"isEligible":false}`))
	})

	seen := map[string]bool{}
	for range 2 {
		_, resp, err := client.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "c"})
		require.NoError(t, err)
		got := receive(t, reqs)

		for _, h := range []string{"MS-RequestId", "MS-CorrelationId"} {
			v := got.Header.Get(h)
			_, err := uuid.Parse(v)
			require.NoError(t, err, "%s %q is not a UUID", h, v)
			require.False(t, seen[v], "%s %q reused", h, v)
			seen[v] = true
		}
		require.Equal(t, got.Header.Get("MS-RequestId"), resp.RequestID)
		require.Equal(t, got.Header.Get("MS-CorrelationId"), resp.CorrelationID)
		require.NotEqual(t, resp.RequestID, resp.CorrelationID)
	}
}

func TestClient_transportFailure(t *testing.T) {
	t.Parallel()
	client, _, srv := setup(t)
	srv.Close()

	var mu sync.Mutex
	var infos []CallInfo
	client.observe = func(ci CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		infos = append(infos, ci)
	}

	_, resp, err := client.ProductUpgrades.Eligibility(t.Context(),
		Call{RequestID: "req-t", CorrelationID: "corr-t"}, ProductUpgradesRequest{CustomerID: "c"})
	require.Error(t, err)

	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, OpProductUpgradeEligibility, te.Op)
	require.True(t, IsRetryable(err))
	require.False(t, IsTerminal(err))
	require.False(t, IsAuth(err))
	require.Equal(t, "transport", ErrorCode(err))

	require.NotNil(t, resp)
	require.Nil(t, resp.Response)
	require.Equal(t, 0, resp.Status())
	require.Equal(t, "req-t", resp.RequestID)
	require.Equal(t, "corr-t", resp.CorrelationID)
	require.Equal(t, OpProductUpgradeEligibility, resp.Operation)
	require.Positive(t, resp.Duration)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, infos, 1)
	require.Equal(t, OpProductUpgradeEligibility, infos[0].Operation)
	require.Equal(t, 0, infos[0].StatusCode)
	require.Same(t, err, infos[0].Err)
}

func TestClient_requestTimeout(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux.HandleFunc("/v1/productUpgrades/{id}/status", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, resp, err := client.ProductUpgrades.Status(ctx, Call{}, "u1", ProductUpgradesRequest{CustomerID: "c"})
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, IsRetryable(err))
	require.Equal(t, 0, resp.Status())
	require.NotEmpty(t, resp.RequestID)
}

func TestClient_observer(t *testing.T) {
	t.Parallel()

	var mu sync.Mutex
	var infos []CallInfo
	client, mux, _ := setup(t, WithObserver(func(ci CallInfo) {
		mu.Lock()
		defer mu.Unlock()
		infos = append(infos, ci)
	}))
	mux.HandleFunc("/v1/productUpgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusConflict, []byte(`{"code":900109,"description":"An upgrade is already in progress."}`))
	})
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "product_upgrade_eligibility.json"))
	})

	_, _, createErr := client.ProductUpgrades.Create(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "c"})
	require.Error(t, createErr)
	_, _, err := client.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "c"})
	require.NoError(t, err)
	// Rejected before sending: not observed.
	_, _, err = client.ProductUpgrades.Status(t.Context(), Call{}, "", ProductUpgradesRequest{CustomerID: "c"})
	require.ErrorIs(t, err, ErrInvalidArgument)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, infos, 2)
	require.Equal(t, OpProductUpgradeCreate, infos[0].Operation)
	require.Equal(t, http.StatusConflict, infos[0].StatusCode)
	require.Same(t, createErr, infos[0].Err)
	require.Positive(t, infos[0].Duration)
	require.Equal(t, OpProductUpgradeEligibility, infos[1].Operation)
	require.Equal(t, http.StatusOK, infos[1].StatusCode)
	require.NoError(t, infos[1].Err)
}

func TestClient_decodeFailures(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	mux.HandleFunc("/v1/productUpgrades/empty/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, nil)
	})
	mux.HandleFunc("/v1/productUpgrades/garbage/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`<html>not json</html>`))
	})

	for _, id := range []string{"empty", "garbage"} {
		st, resp, err := client.ProductUpgrades.Status(t.Context(), Call{}, id, ProductUpgradesRequest{CustomerID: "c"})
		require.ErrorIs(t, err, ErrDecode, id)
		require.Nil(t, st)
		require.Equal(t, http.StatusOK, resp.Status())
		require.Equal(t, "decode", ErrorCode(err))
		require.ErrorContains(t, err, "partnercenter: product_upgrade_status: cannot decode response body: ")
		require.False(t, IsRetryable(err))
	}
}

func TestResponse_Status(t *testing.T) {
	t.Parallel()
	var nilResp *Response
	require.Equal(t, 0, nilResp.Status())
	require.Equal(t, 0, (&Response{}).Status())
	require.Equal(t, 202, (&Response{Response: &http.Response{StatusCode: 202}}).Status())
}

func TestTransportError_unwrap(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection reset by peer")
	err := error(&TransportError{Op: OpProductUpgradeCreate, Err: cause})
	require.ErrorIs(t, err, cause)
	require.Equal(t, "partnercenter: product_upgrade_create: transport: connection reset by peer", err.Error())
}
