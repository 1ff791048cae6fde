package partnercenter

import (
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokenGate honours a token endpoint's Retry-After for the whole process:
// after an answer that asked to wait, every token request until then gets
// that answer again, with the remaining wait, without calling the endpoint.
// Microsoft Entra ID throttles its token endpoint too, and hundreds of jobs
// asking again at once would only prolong it.
type tokenGate struct {
	src oauth2.TokenSource

	mu        sync.Mutex
	notBefore time.Time
	last      *TokenError
}

// Token implements oauth2.TokenSource.
func (g *tokenGate) Token() (*oauth2.Token, error) {
	g.mu.Lock()
	if wait := time.Until(g.notBefore); wait > 0 && g.last != nil {
		e := *g.last
		e.RetryAfter = wait
		g.mu.Unlock()
		return nil, &e
	}
	g.mu.Unlock()

	tok, err := g.src.Token()
	if te, ok := err.(*TokenError); ok && te.RetryAfter > 0 && te.Retryable() { //nolint:errorlint // the sources return it unwrapped
		g.mu.Lock()
		g.notBefore, g.last = time.Now().Add(te.RetryAfter), te
		g.mu.Unlock()
	}
	return tok, err
}
