package partnercenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
	// request never leaves with a token about to lapse.
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
}

// String implements fmt.Stringer with the secrets masked.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{TenantID:%q ClientID:%q ClientSecret:%s RefreshToken:%s TokenURL:%q Scope:%q}",
		c.TenantID, c.ClientID, maskSecret(c.ClientSecret), maskSecret(c.RefreshToken), c.TokenURL, c.Scope)
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
	if c.RefreshToken == "" && c.ClientSecret == "" {
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
// With creds.RefreshToken set it uses the refresh-token grant (app+user),
// sending client_id, client_secret (if any), refresh_token and the scope in
// the form body; otherwise it uses the client credentials grant (app-only).
// A v1 token endpoint also gets resource=https://api.partnercenter.microsoft.com.
// Tokens are cached and renewed a minute before they expire; a refresh token
// the endpoint rotates is kept in memory only.
//
// base supplies the transport, timeout, redirect policy and cookie jar of
// both the token requests and the API requests; nil means a client with
// DefaultHTTPTimeout. ctx supplies values for token requests, but its
// cancellation is ignored: the returned client outlives it.
func NewHTTPClient(ctx context.Context, creds Credentials, base *http.Client) (*http.Client, error) {
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
	if v1 {
		params.Set("resource", Resource)
	}

	var src oauth2.TokenSource
	if creds.RefreshToken != "" {
		src = &refreshTokenSource{
			ctx:          tokenCtx,
			client:       base,
			tokenURL:     tokenURL,
			clientID:     creds.ClientID,
			clientSecret: creds.ClientSecret,
			scope:        strings.Join(scopes, " "),
			params:       params,
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
		// once, below, with our expiry buffer.
		src = tokenSourceFunc(func() (*oauth2.Token, error) { return cc.Token(tokenCtx) })
	}
	src = scrubbingTokenSource{src: src, secrets: []string{creds.ClientSecret, creds.RefreshToken}}

	return &http.Client{
		Transport: &oauth2.Transport{
			Base:   base.Transport,
			Source: oauth2.ReuseTokenSourceWithExpiry(nil, src, tokenExpiryBuffer),
		},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}, nil
}

// scrubbingTokenSource removes the client secret and refresh token from
// token-endpoint errors, in case the endpoint echoes them, before the errors
// travel into logs and the database.
type scrubbingTokenSource struct {
	src     oauth2.TokenSource
	secrets []string
}

// Token implements oauth2.TokenSource.
func (s scrubbingTokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token()
	if err == nil {
		return tok, nil
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return nil, err
	}
	scrub := func(v string) string {
		for _, secret := range s.secrets {
			if len(secret) >= 4 {
				v = strings.ReplaceAll(v, secret, redacted)
			}
		}
		return v
	}
	return nil, &oauth2.RetrieveError{
		Response:         re.Response,
		Body:             []byte(scrub(string(re.Body))),
		ErrorCode:        scrub(re.ErrorCode),
		ErrorDescription: scrub(re.ErrorDescription),
		ErrorURI:         scrub(re.ErrorURI),
	}
}

// tokenSourceFunc adapts a function to oauth2.TokenSource.
type tokenSourceFunc func() (*oauth2.Token, error)

// Token implements oauth2.TokenSource.
func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// refreshTokenSource runs the OAuth 2.0 refresh-token grant. It exists
// because oauth2.Config's refresher sends neither a scope nor extra
// parameters, and Entra needs the scope (v2.0) or the resource (v1) to know
// which API the token is for. Errors from the endpoint are
// *oauth2.RetrieveError, as with the rest of golang.org/x/oauth2.
type refreshTokenSource struct {
	ctx          context.Context
	client       *http.Client
	tokenURL     string
	clientID     string
	clientSecret string
	scope        string
	params       url.Values

	mu           sync.Mutex
	refreshToken string // rotated when the endpoint returns a new one
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
	ErrorURI         string     `json:"error_uri"`
}

// Token implements oauth2.TokenSource.
func (s *refreshTokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	form := url.Values{}
	for k, v := range s.params {
		form[k] = append([]string(nil), v...)
	}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", s.refreshToken)
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
		return nil, fmt.Errorf("oauth2: cannot fetch token: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, fmt.Errorf("oauth2: cannot read token response: %w", err)
	}

	var tr tokenResponse
	decodeErr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || tr.Error != "" {
		return nil, &oauth2.RetrieveError{
			Response:         resp,
			Body:             body,
			ErrorCode:        tr.Error,
			ErrorDescription: tr.ErrorDescription,
			ErrorURI:         tr.ErrorURI,
		}
	}
	if decodeErr != nil {
		return nil, errors.New("oauth2: cannot parse token response")
	}
	if tr.AccessToken == "" {
		return nil, errors.New("oauth2: server response missing access_token")
	}

	tok := &oauth2.Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		RefreshToken: tr.RefreshToken,
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(string(tr.ExpiresIn)), 10, 64); err == nil && secs > 0 {
		tok.Expiry = start.Add(time.Duration(secs) * time.Second)
	}
	if tr.RefreshToken != "" {
		s.refreshToken = tr.RefreshToken
	} else {
		tok.RefreshToken = s.refreshToken
	}
	return tok, nil
}
