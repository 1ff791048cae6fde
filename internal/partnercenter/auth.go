package partnercenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	// DefaultScope is the OAuth 2.0 scope requested from a v2.0 token
	// endpoint unless Credentials.Scope says otherwise.
	DefaultScope = "https://api.partnercenter.microsoft.com/.default"

	// Resource is the Partner Center resource sent as "resource" to a v1
	// token endpoint (one ending in /oauth2/token).
	Resource = "https://api.partnercenter.microsoft.com"

	// DefaultHTTPTimeout is the timeout of the HTTP client NewHTTPClient
	// builds when given no base client.
	DefaultHTTPTimeout = 60 * time.Second

	defaultTokenURLFormat = "https://login.microsoftonline.com/%s/oauth2/v2.0/token"

	// tokenExpiryBuffer renews a token this long before it expires, so a
	// request never leaves with a token about to lapse; a token that lives
	// less than twice as long is renewed half-way through its life instead
	// (see tokenCache).
	tokenExpiryBuffer = time.Minute

	maxTokenResponse = 1 << 20
)

// Credentials identify the application (and, with RefreshToken, the partner
// user) to Microsoft Entra ID. String, GoString and LogValue mask
// ClientSecret and RefreshToken, so a Credentials value can be printed or
// logged safely.
type Credentials struct {
	// TenantID is the partner's Entra tenant (GUID or domain). Required
	// unless TokenURL is set.
	TenantID string
	// ClientID is the application (client) ID. Required.
	ClientID string
	// ClientSecret is the application secret. Required for the client
	// credentials grant; optional with a refresh token.
	ClientSecret string
	// RefreshToken, when set, selects the app+user refresh-token grant
	// (Secure Application Model), which the product-upgrade endpoints
	// require. Otherwise the app-only client credentials grant is used.
	RefreshToken string
	// TokenURL overrides the token endpoint, by default
	// https://login.microsoftonline.com/{TenantID}/oauth2/v2.0/token. A URL
	// ending in /oauth2/token is treated as the v1 endpoint and also gets
	// resource=https://api.partnercenter.microsoft.com.
	TokenURL string
	// Scope overrides the requested scope: DefaultScope for a v2.0 endpoint,
	// none for a v1 endpoint.
	Scope string
	// Resource, when set, is sent as "resource" whatever the endpoint. When
	// empty, a v1 endpoint (a TokenURL ending in /oauth2/token) gets the
	// Partner Center resource (the Resource constant) and a v2.0 endpoint
	// gets none: v1 endpoints take a resource, v2.0 endpoints a scope.
	Resource string
	// RefreshTokenStore, when set, keeps the current refresh token where
	// every replica sees it. Before each refresh the token source loads the
	// latest token from it, so a rotation by another replica is used; when
	// the store holds none it uses the last token this client knew
	// (RefreshToken at first). A refresh token the endpoint rotates is saved
	// to it. Setting it selects the refresh-token grant even when
	// RefreshToken is empty.
	RefreshTokenStore RefreshTokenStore
	// OnToken, when set, is called after every token acquisition (one
	// request to the token endpoint, made when no cached token is fresh),
	// for metrics. It must be safe for concurrent use and return quickly.
	OnToken func(TokenInfo)
}

// TokenInfo describes one token acquisition for Credentials.OnToken.
type TokenInfo struct {
	// StatusCode is the token endpoint's HTTP status: 200 when a token was
	// issued, the refusal's status, or 0 when no usable answer arrived
	// (connection failure, malformed body, no refresh token available).
	StatusCode int
	// Duration is how long the acquisition took.
	Duration time.Duration
	// Err is nil when a token was issued; else a *TokenError or another
	// error, never carrying a secret.
	Err error
}

// observeTokens calls f after every Token call of src.
func observeTokens(src oauth2.TokenSource, f func(TokenInfo)) oauth2.TokenSource {
	return tokenSourceFunc(func() (*oauth2.Token, error) {
		start := time.Now()
		tok, err := src.Token()
		info := TokenInfo{StatusCode: http.StatusOK, Duration: time.Since(start), Err: err}
		if err != nil {
			info.StatusCode = 0
			var te *TokenError
			var re *oauth2.RetrieveError
			switch {
			case errors.As(err, &te):
				info.StatusCode = te.StatusCode
			case errors.As(err, &re) && re.Response != nil:
				info.StatusCode = re.Response.StatusCode
			}
		}
		f(info)
		return tok, err
	})
}

// RefreshTokenStore persists the refresh token shared by all replicas.
// Implementations must be safe for concurrent use. Load returns "" (and no
// error) when nothing is stored yet.
type RefreshTokenStore interface {
	Load(ctx context.Context) (string, error)
	Save(ctx context.Context, token string) error
}

// AppOnly reports whether the credentials get app-only tokens (the client
// credentials grant), which the product-upgrade endpoints refuse (see
// RequiresUserToken).
func (c Credentials) AppOnly() bool {
	return c.RefreshToken == "" && c.RefreshTokenStore == nil
}

// RequiresUserToken reports whether the operation op (one of the Op
// constants) needs app+user credentials: Partner Center answers an app-only
// token there with 403 and code 900329.
func RequiresUserToken(op string) bool {
	switch op {
	case OpProductUpgradeEligibility, OpProductUpgradeCreate, OpProductUpgradeStatus:
		return true
	}
	return false
}

// String implements fmt.Stringer with the secrets masked.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{TenantID:%q ClientID:%q ClientSecret:%s RefreshToken:%s TokenURL:%q Scope:%q Resource:%q RefreshTokenStore:%t}",
		c.TenantID, c.ClientID, maskSecret(c.ClientSecret), maskSecret(c.RefreshToken), c.TokenURL, c.Scope, c.Resource,
		c.RefreshTokenStore != nil)
}

// GoString implements fmt.GoStringer, so %#v masks the secrets too.
func (c Credentials) GoString() string { return "partnercenter." + c.String() }

// LogValue implements slog.LogValuer with the secrets masked.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenant_id", c.TenantID),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", maskSecret(c.ClientSecret)),
		slog.String("refresh_token", maskSecret(c.RefreshToken)),
		slog.String("token_url", c.TokenURL),
		slog.String("scope", c.Scope),
		slog.String("resource", c.Resource),
		slog.Bool("refresh_token_store", c.RefreshTokenStore != nil),
	)
}

// maskSecret shows whether a secret is set without showing it.
func maskSecret(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// Validate reports the first missing or malformed field. Its messages never
// contain the secret or the refresh token.
func (c Credentials) Validate() error {
	if strings.TrimSpace(c.ClientID) == "" {
		return errors.New("partnercenter: credentials: client id is required")
	}
	if strings.TrimSpace(c.TokenURL) == "" && strings.TrimSpace(c.TenantID) == "" {
		return errors.New("partnercenter: credentials: tenant id is required when no token URL is given")
	}
	if strings.TrimSpace(c.TokenURL) != "" {
		u, err := url.Parse(strings.TrimSpace(c.TokenURL))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("partnercenter: credentials: token URL must be an absolute http or https URL")
		}
	}
	if c.AppOnly() && c.ClientSecret == "" {
		return errors.New("partnercenter: credentials: client secret is required without a refresh token")
	}
	return nil
}

// tokenURL returns the token endpoint to use.
func (c Credentials) tokenURL() string {
	if u := strings.TrimSpace(c.TokenURL); u != "" {
		return u
	}
	return fmt.Sprintf(defaultTokenURLFormat, url.PathEscape(strings.TrimSpace(c.TenantID)))
}

// isV1TokenURL reports whether raw is an Entra v1 token endpoint, which
// takes "resource" instead of a scope.
func isV1TokenURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return strings.HasSuffix(strings.ToLower(strings.TrimRight(u.Path, "/")), "/oauth2/token")
}

// NewHTTPClient returns an *http.Client that adds a bearer token for Partner
// Center to every request, for use with NewClient.
//
// With creds.RefreshToken or creds.RefreshTokenStore set it uses the
// refresh-token grant (app+user), sending client_id, client_secret (if any)
// and refresh_token in the form body; otherwise it uses the client
// credentials grant (app-only). Both send the scope (DefaultScope for a v2.0
// endpoint unless creds.Scope says otherwise) and, for a v1 endpoint or when
// creds.Resource is set, the resource. Tokens are cached and renewed a
// minute before they expire, or half-way through their life when they live
// less than two minutes; calls that need a token while one is being asked
// for wait for that one request and share its result, so the client has at
// most one token request in flight. A refresh token the endpoint rotates
// replaces the old one in memory and, with a RefreshTokenStore, in the
// store.
//
// A token endpoint that refuses becomes a *TokenError (IsAuth and
// IsTokenFailure report it), whose text never carries the secret or the
// tokens.
//
// base supplies the transport, timeout, redirect policy and cookie jar of
// both the token requests and the API requests; nil means a client with
// DefaultHTTPTimeout. ctx supplies values for token requests, but its
// cancellation is ignored: the returned client outlives it.
func NewHTTPClient(ctx context.Context, creds Credentials, base *http.Client) (*http.Client, error) {
	return newHTTPClient(ctx, creds, base, time.Now)
}

// newHTTPClient is NewHTTPClient with the clock token renewals are scheduled
// on.
func newHTTPClient(ctx context.Context, creds Credentials, base *http.Client, now func() time.Time) (*http.Client, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	if base == nil {
		base = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	tokenCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, base)

	tokenURL := creds.tokenURL()
	v1 := isV1TokenURL(tokenURL)
	scope := strings.TrimSpace(creds.Scope)
	if scope == "" && !v1 {
		scope = DefaultScope
	}
	var scopes []string
	if scope != "" {
		scopes = strings.Fields(scope)
	}
	params := url.Values{}
	switch resource := strings.TrimSpace(creds.Resource); {
	case resource != "":
		params.Set("resource", resource)
	case v1:
		params.Set("resource", Resource)
	}

	secrets := []string{creds.ClientSecret, creds.RefreshToken}
	var src oauth2.TokenSource
	if !creds.AppOnly() {
		src = &refreshTokenSource{
			ctx:          tokenCtx,
			client:       base,
			tokenURL:     tokenURL,
			clientID:     creds.ClientID,
			clientSecret: creds.ClientSecret,
			scope:        strings.Join(scopes, " "),
			params:       params,
			store:        creds.RefreshTokenStore,
			refreshToken: creds.RefreshToken,
		}
	} else {
		cc := &clientcredentials.Config{
			ClientID:       creds.ClientID,
			ClientSecret:   creds.ClientSecret,
			TokenURL:       tokenURL,
			Scopes:         scopes,
			EndpointParams: params,
			AuthStyle:      oauth2.AuthStyleInParams,
		}
		// cc.Token fetches a new token on every call; the caching is done
		// once, below, by tokenCache.
		src = tokenSourceFunc(func() (*oauth2.Token, error) {
			tok, err := cc.Token(tokenCtx)
			var re *oauth2.RetrieveError
			switch {
			case errors.As(err, &re):
				return nil, newTokenError(re.Response, re.Body, re.ErrorCode, re.ErrorDescription, secrets)
			case err != nil:
				return nil, unreachableToken(err)
			}
			return tok, nil
		})
	}

	if creds.OnToken != nil {
		src = observeTokens(src, creds.OnToken)
	}
	src = &tokenGate{src: src}

	return &http.Client{
		Transport: &oauth2.Transport{
			Base:   base.Transport,
			Source: newTokenCache(src, tokenExpiryBuffer, now),
		},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}, nil
}

// TokenError is a token endpoint's refusal to issue a token. Its fields and
// text are sanitized: the client secret, the refresh token and anything that
// looks like a token or secret are redacted. Endpoint methods return it
// wrapped in a *TransportError (no request reached Partner Center).
type TokenError struct {
	// StatusCode is the token endpoint's HTTP status, or 0 when the failure
	// was not an HTTP answer (such as no refresh token being available).
	StatusCode int
	// ErrorCode is the OAuth 2.0 error, such as "invalid_grant" or
	// "invalid_client".
	ErrorCode string
	// AADSTS is the Entra error code, such as "AADSTS70008" (expired refresh
	// token), "AADSTS50076" or "AADSTS50078" (MFA required); empty when the
	// answer gave none.
	AADSTS string
	// Description is the endpoint's error description, sanitized and
	// shortened.
	Description string
	// NoAnswer means the token endpoint could not be reached or its answer
	// could not be read (connection refused or reset, timeout): asking again
	// may succeed.
	NoAnswer bool
	// RetryAfter is the wait the token endpoint asked for with a 429 or 503
	// (Retry-After, or the delay stated in the description); 0 when it
	// stated none.
	RetryAfter time.Duration
}

// Error implements error.
func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("token endpoint")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " HTTP %d", e.StatusCode)
	}
	if e.NoAnswer {
		b.WriteString(" did not answer")
	}
	if e.ErrorCode != "" {
		b.WriteString(", error ")
		b.WriteString(e.ErrorCode)
	}
	switch {
	case e.Description != "":
		b.WriteString(": ")
		b.WriteString(e.Description)
	case e.AADSTS != "":
		b.WriteString(": ")
		b.WriteString(e.AADSTS)
	}
	return b.String()
}

// mfaAADSTS are Entra codes that mean the user must pass MFA again, which
// no retry can do.
var mfaAADSTS = map[string]bool{"AADSTS50076": true, "AADSTS50078": true, "AADSTS50079": true}

// Retryable reports whether asking the token endpoint again may succeed: it
// did not answer, or answered 408, 429 or 5xx, and not with invalid_grant or
// an MFA demand.
func (e *TokenError) Retryable() bool {
	if e == nil || e.ErrorCode == "invalid_grant" || e.ErrorCode == "invalid_client" || mfaAADSTS[e.AADSTS] {
		return false
	}
	return e.NoAnswer || retryableStatus(e.StatusCode)
}

// unreachableToken is the *TokenError for a token request that got no
// answer. Its text keeps only the kind of failure (a timeout, a refused or
// reset connection), never the request.
func unreachableToken(err error) *TokenError {
	var ne net.Error
	what := "connection failed"
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		what = "timed out"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		what = "connection closed before the answer"
	}
	return &TokenError{NoAnswer: true, Description: what}
}

// IsTokenFailure reports whether err is a failure to obtain a token, as
// opposed to an answer from Partner Center.
func IsTokenFailure(err error) bool {
	var te *TokenError
	var re *oauth2.RetrieveError
	return errors.As(err, &te) || errors.As(err, &re)
}

var (
	aadstsInText = regexp.MustCompile(`\bAADSTS(\d{4,9})\b`)
	oauthCode    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// newTokenError builds a sanitized *TokenError from a token endpoint answer.
func newTokenError(resp *http.Response, body []byte, code, description string, secrets []string) *TokenError {
	e := &TokenError{}
	if resp != nil {
		e.StatusCode = resp.StatusCode
	}
	var extra struct {
		ErrorCodes []json.Number `json:"error_codes"`
	}
	_ = json.Unmarshal(body, &extra)
	if code = strings.TrimSpace(code); oauthCode.MatchString(code) {
		e.ErrorCode = code
	} else if code != "" {
		e.ErrorCode = "invalid_error_code"
	}
	if m := aadstsInText.FindStringSubmatch(description); m != nil {
		e.AADSTS = "AADSTS" + m[1]
	} else if len(extra.ErrorCodes) > 0 {
		if n, err := extra.ErrorCodes[0].Int64(); err == nil && n > 0 {
			e.AADSTS = "AADSTS" + strconv.FormatInt(n, 10)
		}
	}
	e.Description = sanitizeText(description, maxSnippet, secretsToScrub(secrets))
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if resp.Header.Get("Retry-After") != "" || resp.StatusCode == http.StatusTooManyRequests {
			e.RetryAfter = retryAfter(resp.Header, description)
		}
	}
	return e
}

// secretsToScrub drops values too short to redact without mangling text.
func secretsToScrub(secrets []string) []string {
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// tokenSourceFunc adapts a function to oauth2.TokenSource.
type tokenSourceFunc func() (*oauth2.Token, error)

// Token implements oauth2.TokenSource.
func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// refreshTokenSource runs the OAuth 2.0 refresh-token grant. It exists
// because oauth2.Config's refresher sends neither a scope nor extra
// parameters, and Entra needs the scope (v2.0) or the resource (v1) to know
// which API the token is for, and because the refresh token may live in a
// RefreshTokenStore shared with other replicas.
type refreshTokenSource struct {
	ctx          context.Context
	client       *http.Client
	tokenURL     string
	clientID     string
	clientSecret string
	scope        string
	params       url.Values
	store        RefreshTokenStore // may be nil

	mu           sync.Mutex
	refreshToken string // the last refresh token known to this client
	unsaved      bool   // refreshToken was rotated but could not be saved
}

// tokenResponse is the token endpoint's JSON answer; expires_in is a number
// from v2.0 endpoints and a string from v1 ones.
type tokenResponse struct {
	AccessToken      string     `json:"access_token"`
	TokenType        string     `json:"token_type"`
	RefreshToken     string     `json:"refresh_token"`
	ExpiresIn        flexString `json:"expires_in"`
	Error            string     `json:"error"`
	ErrorDescription string     `json:"error_description"`
}

// currentRefreshToken returns the refresh token to use: a token rotated but
// not yet saved first (saving it again now), else the store's, else the last
// one known.
func (s *refreshTokenSource) currentRefreshToken() (string, error) {
	if s.store == nil {
		return s.refreshToken, nil
	}
	if s.unsaved {
		if err := s.store.Save(s.ctx, s.refreshToken); err == nil {
			s.unsaved = false
		}
		return s.refreshToken, nil
	}
	stored, err := s.store.Load(s.ctx)
	if err != nil {
		return "", fmt.Errorf("partnercenter: refresh token store: load: %w", err)
	}
	if stored = strings.TrimSpace(stored); stored != "" {
		s.refreshToken = stored
	}
	return s.refreshToken, nil
}

// Token implements oauth2.TokenSource.
func (s *refreshTokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	used, err := s.currentRefreshToken()
	if err != nil {
		return nil, err
	}
	secrets := []string{s.clientSecret, used}
	if used == "" {
		return nil, &TokenError{ErrorCode: "missing_refresh_token", Description: "no refresh token is configured or stored"}
	}

	form := url.Values{}
	for k, v := range s.params {
		form[k] = append([]string(nil), v...)
	}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", used)
	form.Set("client_id", s.clientID)
	if s.clientSecret != "" {
		form.Set("client_secret", s.clientSecret)
	}
	if s.scope != "" {
		form.Set("scope", s.scope)
	}

	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errors.New("oauth2: cannot build token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, unreachableToken(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, unreachableToken(err)
	}

	var tr tokenResponse
	decodeErr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || tr.Error != "" {
		return nil, newTokenError(resp, body, tr.Error, tr.ErrorDescription, secrets)
	}
	if decodeErr != nil {
		return nil, errors.New("oauth2: cannot parse token response")
	}
	if tr.AccessToken == "" {
		return nil, errors.New("oauth2: server response missing access_token")
	}

	tok := &oauth2.Token{
		AccessToken: tr.AccessToken,
		TokenType:   tr.TokenType,
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(string(tr.ExpiresIn)), 10, 64); err == nil && secs > 0 {
		tok.Expiry = start.Add(time.Duration(secs) * time.Second)
	}
	if tr.RefreshToken != "" && tr.RefreshToken != used {
		s.refreshToken = tr.RefreshToken
		if s.store != nil {
			// The access token is good either way; a rotated refresh token
			// that could not be saved is kept here and saved again (and
			// used instead of the store's) on the next refresh.
			s.unsaved = s.store.Save(s.ctx, tr.RefreshToken) != nil
		}
	}
	tok.RefreshToken = s.refreshToken
	return tok, nil
}
