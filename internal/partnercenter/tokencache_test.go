package partnercenter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// grantServer is a token endpoint and an API on one httptest server. The
// token endpoint issues tokens "at-1", "at-2", ... living lifetime, records
// the test clock's time of every grant, and rotates the refresh token; the
// API answers 200 and checks the bearer token was not expired on the test
// clock.
type grantServer struct {
	t     *testing.T
	clock *testClock
	srv   *httptest.Server

	mu       sync.Mutex
	lifetime time.Duration
	status   int           // answer of the token endpoint; 0 means 200
	hold     chan struct{} // when set, token requests wait for it to close
	arrived  chan struct{} // when set, gets a value when a token request arrives
	grants   []time.Time   // test clock time of every token request
	issued   map[string]time.Time
	calls    int
}

func newGrantServer(t *testing.T, clock *testClock, lifetime time.Duration) *grantServer {
	t.Helper()
	g := &grantServer{t: t, clock: clock, lifetime: lifetime, issued: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/oauth2/v2.0/token", g.token)
	mux.HandleFunc("GET /v1/call", g.call)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *grantServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		g.t.Errorf("token request form: %v", err)
	}
	g.mu.Lock()
	hold, arrived := g.hold, g.arrived
	g.mu.Unlock()
	if arrived != nil {
		arrived <- struct{}{}
	}
	if hold != nil {
		<-hold
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	g.grants = append(g.grants, now)
	n := len(g.grants)
	w.Header().Set("Content-Type", "application/json")
	if g.status != 0 && g.status != http.StatusOK {
		w.WriteHeader(g.status)
		_, _ = w.Write([]byte(`{"error":"server_error","error_description":"AADSTS90033: A transient error has occurred."}`))
		return
	}
	access := fmt.Sprintf("at-%d", n)
	g.issued[access] = now
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":%d,"refresh_token":"rt-%d"}`,
		access, int(g.lifetime/time.Second), n)
}

func (g *grantServer) call(w http.ResponseWriter, r *http.Request) {
	access := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	issued, ok := g.issued[access]
	switch {
	case !ok:
		g.t.Errorf("API call with an unknown token %q", access)
	case !g.clock.Now().Before(issued.Add(g.lifetime)):
		g.t.Errorf("API call at %v with %s, which expired at %v", g.clock.Now(), access, issued.Add(g.lifetime))
	}
	w.WriteHeader(http.StatusOK)
}

func (g *grantServer) grantTimes() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.grants...)
}

// bothGrants are the credentials of both grant types against g.
func (g *grantServer) bothGrants() map[string]Credentials {
	tokenURL := g.srv.URL + "/t/oauth2/v2.0/token"
	return map[string]Credentials{
		"refresh token (app+user)":      {ClientID: "app-id", ClientSecret: testClientSecret, RefreshToken: testRefreshToken, TokenURL: tokenURL},
		"client credentials (app-only)": {ClientID: "app-id", ClientSecret: testClientSecret, TokenURL: tokenURL},
	}
}

func (g *grantServer) get(t *testing.T, hc *http.Client) error {
	t.Helper()
	resp, err := hc.Get(g.srv.URL + "/v1/call")
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("API answered %d", resp.StatusCode)
	}
	return nil
}

// cacheOf returns the token cache inside a client NewHTTPClient built.
func cacheOf(t *testing.T, hc *http.Client) *tokenCache {
	t.Helper()
	tr, ok := hc.Transport.(*oauth2.Transport)
	require.True(t, ok)
	c, ok := tr.Source.(*tokenCache)
	require.True(t, ok)
	return c
}

// waitForWaiters waits until n callers wait for the token request in flight.
func waitForWaiters(t *testing.T, c *tokenCache, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.inFlight != nil && c.inFlight.waiters == n
	}, 10*time.Second, time.Millisecond, "%d callers waiting for the token request", n)
}

func TestTokenCache_concurrentCallersShareOneRequest(t *testing.T) {
	t.Parallel()
	const callers = 50
	clock := newTestClock()
	g := newGrantServer(t, clock, time.Hour)
	for name, creds := range g.bothGrants() {
		t.Run(name, func(t *testing.T) {
			hc, err := newHTTPClient(t.Context(), creds, nil, clock.Now)
			require.NoError(t, err)
			require.NoError(t, g.get(t, hc))
			before := len(g.grantTimes())
			clock.Advance(time.Hour) // the token has expired

			hold, arrived := make(chan struct{}), make(chan struct{}, callers)
			g.mu.Lock()
			g.hold, g.arrived = hold, arrived
			g.mu.Unlock()
			errs := make(chan error, callers)
			for range callers {
				go func() { errs <- g.get(t, hc) }()
			}
			<-arrived
			waitForWaiters(t, cacheOf(t, hc), callers-1)
			close(hold)
			for range callers {
				require.NoError(t, <-errs)
			}
			g.mu.Lock()
			g.hold, g.arrived = nil, nil
			g.mu.Unlock()
			require.Len(t, g.grantTimes(), before+1, "%d concurrent calls with an expired token: one token request", callers)
			require.Empty(t, arrived, "no second token request arrived")
		})
	}
}

func TestTokenCache_concurrentCallersShareOneFailure(t *testing.T) {
	t.Parallel()
	const callers = 50
	clock := newTestClock()
	g := newGrantServer(t, clock, time.Hour)
	for name, creds := range g.bothGrants() {
		t.Run(name, func(t *testing.T) {
			hc, err := newHTTPClient(t.Context(), creds, nil, clock.Now)
			require.NoError(t, err)
			require.NoError(t, g.get(t, hc))
			before := len(g.grantTimes())
			clock.Advance(time.Hour)

			// A 500 without Retry-After: the gate lets the next request
			// through at once, so only the shared flight keeps the waiters
			// from asking one after another.
			hold, arrived := make(chan struct{}), make(chan struct{}, callers)
			g.mu.Lock()
			g.hold, g.arrived, g.status = hold, arrived, http.StatusInternalServerError
			g.mu.Unlock()
			errs := make(chan error, callers)
			for range callers {
				go func() { errs <- g.get(t, hc) }()
			}
			<-arrived
			waitForWaiters(t, cacheOf(t, hc), callers-1)
			close(hold)
			for range callers {
				err := <-errs
				var te *TokenError
				require.ErrorAs(t, err, &te)
				require.Equal(t, http.StatusInternalServerError, te.StatusCode)
			}
			g.mu.Lock()
			g.hold, g.arrived, g.status = nil, nil, 0
			g.mu.Unlock()
			require.Len(t, g.grantTimes(), before+1, "%d concurrent calls share one failed token request", callers)

			// A failure is not cached: the next call asks again.
			require.NoError(t, g.get(t, hc))
			require.Len(t, g.grantTimes(), before+2)
		})
	}
}

// renewals drives calls every step of the test clock for span and returns
// the intervals between the token requests they caused.
func renewals(t *testing.T, lifetime, step, span time.Duration) (intervals []time.Duration, calls int) {
	t.Helper()
	var all []time.Duration
	clock := newTestClock()
	g := newGrantServer(t, clock, lifetime)
	for name, creds := range g.bothGrants() {
		hc, err := newHTTPClient(t.Context(), creds, nil, clock.Now)
		require.NoError(t, err)
		start := len(g.grantTimes())
		for elapsed := time.Duration(0); elapsed < span; elapsed += step {
			require.NoError(t, g.get(t, hc), "%s at %v", name, elapsed)
			clock.Advance(step)
		}
		grants := g.grantTimes()[start:]
		require.NotEmpty(t, grants, name)
		for i := 1; i < len(grants); i++ {
			all = append(all, grants[i].Sub(grants[i-1]))
		}
		calls += int(span / step)
	}
	return all, calls
}

func TestTokenCache_shortLifetimeRenewsHalfWay(t *testing.T) {
	t.Parallel()
	// 20-second tokens, a call every 100 ms for 60 s: a renewal about
	// every 10 s (6 tokens a minute), not one per call (600).
	const step = 100 * time.Millisecond
	intervals, calls := renewals(t, 20*time.Second, step, time.Minute)
	require.Equal(t, 2*600, calls)
	require.Len(t, intervals, 2*5, "two grant types, 6 tokens each in 60 s")
	for _, d := range intervals {
		require.GreaterOrEqual(t, d, 10*time.Second)
		require.LessOrEqual(t, d, 10*time.Second+step)
	}
}

func TestTokenCache_renewalMargin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lifetime, interval time.Duration
	}{
		{20 * time.Second, 10 * time.Second},         // half the life
		{90 * time.Second, 45 * time.Second},         // half the life: 45 s < 1 min
		{2 * time.Minute, time.Minute},               // both rules agree
		{10 * time.Minute, 9 * time.Minute},          // a minute before expiry
		{time.Hour, 59 * time.Minute},                // a minute before expiry
		{24 * time.Hour, 24*time.Hour - time.Minute}, // a minute before expiry
	} {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			t.Parallel()
			step := tt.interval / 100
			intervals, _ := renewals(t, tt.lifetime, step, 3*tt.interval)
			require.Len(t, intervals, 2*2, "two grant types, 3 tokens each")
			for _, d := range intervals {
				require.GreaterOrEqual(t, d, tt.interval, "renewed %v before expiry, not %v", tt.lifetime-d, tt.lifetime-tt.interval)
				require.LessOrEqual(t, d, tt.interval+step)
			}
		})
	}
}

func TestTokenCache_tokenWithoutExpiryIsKept(t *testing.T) {
	t.Parallel()
	var calls int
	c := newTokenCache(tokenSourceFunc(func() (*oauth2.Token, error) {
		calls++
		return &oauth2.Token{AccessToken: "forever"}, nil
	}), time.Minute, nil)
	for range 3 {
		tok, err := c.Token()
		require.NoError(t, err)
		require.Equal(t, "forever", tok.AccessToken)
	}
	require.Equal(t, 1, calls)
}

func TestTokenCache_panickingSourceReleasesWaiters(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	c := newTokenCache(tokenSourceFunc(func() (*oauth2.Token, error) {
		<-release
		panic("token source broke")
	}), time.Minute, nil)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = c.Token()
	}()
	waiter := make(chan error, 1)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.inFlight != nil
	}, 5*time.Second, time.Millisecond)
	go func() {
		_, err := c.Token()
		waiter <- err
	}()
	waitForWaiters(t, c, 1)
	close(release)
	require.Equal(t, "token source broke", <-panicked)
	require.ErrorIs(t, <-waiter, errTokenSourcePanicked)
}
