package partnercenter

import (
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokenCache keeps the current access token of one credential and renews it
// at most once at a time.
//
// A token is renewed when less than its margin is left: the smaller of
// maxMargin and half the token's lifetime (the time from asking for it to
// its expiry). A long-lived token is thus renewed maxMargin before it
// expires, and a short-lived one half-way through its life, instead of on
// every call as a fixed margin longer than the lifetime would do. A token
// without an expiry is kept for good.
//
// Callers that find no fresh token while a request to the token endpoint is
// already out wait for that request and share its result, the error
// included: a credential has at most one token request in flight, however
// many calls need a token at once.
type tokenCache struct {
	src       oauth2.TokenSource
	maxMargin time.Duration
	now       func() time.Time // the clock renewals are scheduled on

	mu       sync.Mutex
	tok      *oauth2.Token
	renewAt  time.Time // by now's clock; zero: never
	inFlight *tokenFlight
}

// tokenFlight is one request to the token source and its result, shared by
// every caller that waited for it.
type tokenFlight struct {
	done    chan struct{}
	waiters int // callers waiting for this flight besides the one making it
	tok     *oauth2.Token
	err     error
}

// newTokenCache returns a tokenCache over src that renews tokens at the
// smaller of maxMargin and half their lifetime before expiry, on the clock
// now (time.Now when nil).
func newTokenCache(src oauth2.TokenSource, maxMargin time.Duration, now func() time.Time) *tokenCache {
	if now == nil {
		now = time.Now
	}
	return &tokenCache{src: src, maxMargin: maxMargin, now: now}
}

// Token implements oauth2.TokenSource.
func (c *tokenCache) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	if c.tok != nil && (c.renewAt.IsZero() || c.now().Before(c.renewAt)) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	if f := c.inFlight; f != nil {
		f.waiters++
		c.mu.Unlock()
		<-f.done
		return f.tok, f.err
	}
	f := &tokenFlight{done: make(chan struct{})}
	c.inFlight = f
	c.mu.Unlock()

	c.fetch(f)
	return f.tok, f.err
}

// fetch runs flight f: one call of the source. It always completes f, so
// waiters are released even if the source panics.
func (c *tokenCache) fetch(f *tokenFlight) {
	asked := c.now()
	askedReal := time.Now()
	f.err = errTokenSourcePanicked
	defer func() {
		c.mu.Lock()
		if f.err == nil {
			c.tok = f.tok
			c.renewAt = c.renewalTime(f.tok, asked, askedReal)
		}
		c.inFlight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	f.tok, f.err = c.src.Token()
	if f.err == nil && f.tok == nil {
		f.err = errNoToken
	}
}

// renewalTime is when tok, asked for at asked (by c.now) and askedReal (by
// the wall clock, which the token sources compute Expiry with), is due for
// renewal; zero when it never expires.
func (c *tokenCache) renewalTime(tok *oauth2.Token, asked, askedReal time.Time) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	lifetime := tok.Expiry.Sub(askedReal)
	margin := min(c.maxMargin, lifetime/2)
	if margin < 0 {
		margin = 0
	}
	return asked.Add(lifetime - margin)
}

// tokenCacheError is an error of the token cache itself.
type tokenCacheError string

// Error implements error.
func (e tokenCacheError) Error() string { return string(e) }

const (
	errTokenSourcePanicked = tokenCacheError("oauth2: token source panicked")
	errNoToken             = tokenCacheError("oauth2: token source returned no token")
)
