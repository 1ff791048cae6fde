package simulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Azure AD token endpoint.
//
// Served at /{tenant}/oauth2/token (v1: "resource", expires_in as a string)
// and /{tenant}/oauth2/v2.0/token (v2: "scope", expires_in as a number).
// Any tenant, client id and client secret are accepted; the client may
// authenticate in the form or with HTTP Basic.
//
// Grants:
//   - client_credentials: app-only access token. Needs a client secret and,
//     for v1, a resource; for v2 every scope must end in "/.default".
//   - refresh_token: app+user access token and a new refresh token. Any
//     non-empty refresh token is accepted the first time it is seen (as if
//     it came from the partner's consent). Refresh tokens rotate: each grant
//     issues a new one; the one presented stays valid, and the rotation is
//     recorded (RefreshRotations). RevokeRefreshToken ends a token's whole
//     rotation chain.
//   - authorization_code: app+user access token and a refresh token; each
//     code is accepted once.

// partnerCenterResource is the audience of Partner Center tokens.
const partnerCenterResource = "https://api.partnercenter.microsoft.com"

// refreshToken is an issued or accepted refresh token.
type refreshToken struct {
	// family is the first token of the rotation chain.
	family  string
	rotated bool
}

// RefreshRotation records one refresh_token grant.
type RefreshRotation struct {
	// Presented is the refresh token the client sent; Issued is the one
	// returned in its place.
	Presented, Issued string
	// Stale is true when Presented had already been rotated by an earlier
	// grant: the client did not keep the newest refresh token. The
	// simulator still accepts it.
	Stale bool
	At    time.Time
}

// RefreshRotations returns every refresh_token grant served, in order.
func (s *Simulator) RefreshRotations() []RefreshRotation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RefreshRotation(nil), s.rotations...)
}

// RevokeRefreshToken revokes token and every refresh token of its rotation
// chain: later refresh_token grants with any of them fail with invalid_grant.
// Access tokens already issued stay valid until they expire.
func (s *Simulator) RevokeRefreshToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		rt = &refreshToken{family: token}
		s.refreshTokens[token] = rt
	}
	s.revokedFamilies[rt.family] = true
}

// tokenResponseV1 is an Azure AD v1 token response; the numbers are strings.
type tokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// tokenResponseV2 is an Azure AD v2 token response.
type tokenResponseV2 struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// aadErrorBody is an Azure AD error response.
type aadErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// aadError returns an Azure AD error: error_description starts with
// "AADSTS<code>: " and ends with the trace lines Azure AD appends.
func aadError(req *request, status int, errCode string, aadsts int, message string) response {
	ts := req.now.UTC().Format("2006-01-02 15:04:05Z")
	traceID, correlationID := newGUID(), req.header.Get("Client-Request-Id")
	if correlationID == "" {
		correlationID = newGUID()
	}
	body, _ := json.Marshal(aadErrorBody{
		Error: errCode,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s",
			aadsts, message, traceID, correlationID, ts),
		ErrorCodes:    []int{aadsts},
		Timestamp:     ts,
		TraceID:       traceID,
		CorrelationID: correlationID,
	})
	return response{status: status, header: jsonHeader(), body: body}
}

func missingParameter(req *request, name string) response {
	return aadError(req, http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name))
}

func (s *Simulator) tokenV1(req *request) response { return s.token(req, 1) }

func (s *Simulator) tokenV2(req *request) response { return s.token(req, 2) }

// tokenGrant is what a successful grant yields.
type tokenGrant struct {
	appOnly      bool
	refreshToken string
	resource     string // v1
	scope        string
}

// token serves both endpoint versions. The caller holds s.mu.
func (s *Simulator) token(req *request, version int) response {
	mediaType, _, _ := mime.ParseMediaType(req.header.Get("Content-Type"))
	form, err := url.ParseQuery(string(req.body))
	if mediaType != "application/x-www-form-urlencoded" || err != nil {
		return missingParameter(req, "grant_type")
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		return missingParameter(req, "grant_type")
	}
	clientID, clientSecret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := basicAuth(req.header); ok {
		if clientID == "" {
			clientID = user
		}
		if clientSecret == "" {
			clientSecret = pass
		}
	}
	if clientID == "" {
		return missingParameter(req, "client_id")
	}
	if pin := s.opts.PinCredentials; pin != nil {
		if clientID != pin.ClientID {
			return aadError(req, http.StatusUnauthorized, "invalid_client", 700016,
				fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", clientID, req.params["tenant"]))
		}
		if (clientSecret != "" || grantType == "client_credentials") && clientSecret != pin.ClientSecret {
			return aadError(req, http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		}
	}

	var g tokenGrant
	switch grantType {
	case "client_credentials":
		if clientSecret == "" {
			return aadError(req, http.StatusUnauthorized, "invalid_client", 7000218,
				"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		}
		g.appOnly = true
		if version == 1 {
			if g.resource = form.Get("resource"); g.resource == "" {
				return missingParameter(req, "resource")
			}
			break
		}
		if g.scope = form.Get("scope"); g.scope == "" {
			return missingParameter(req, "scope")
		}
		for _, sc := range strings.Fields(g.scope) {
			if !strings.HasSuffix(sc, "/.default") {
				return aadError(req, http.StatusBadRequest, "invalid_scope", 1002012,
					fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc))
			}
		}

	case "refresh_token":
		presented := form.Get("refresh_token")
		if presented == "" {
			return missingParameter(req, "refresh_token")
		}
		prev, known := s.refreshTokens[presented]
		if !known {
			prev = &refreshToken{family: presented}
			s.refreshTokens[presented] = prev
		}
		if s.revokedFamilies[prev.family] {
			return aadError(req, http.StatusBadRequest, "invalid_grant", 70000,
				"Provided grant is invalid or malformed. The refresh token has been revoked.")
		}
		g.refreshToken = opaque(96)
		s.refreshTokens[g.refreshToken] = &refreshToken{family: prev.family}
		s.rotations = append(s.rotations, RefreshRotation{Presented: presented, Issued: g.refreshToken, Stale: prev.rotated, At: req.now})
		prev.rotated = true

	case "authorization_code":
		code := form.Get("code")
		if code == "" {
			return missingParameter(req, "code")
		}
		if _, used := s.redeemedCodes[code]; used {
			return aadError(req, http.StatusBadRequest, "invalid_grant", 54005,
				"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
		}
		s.redeemedCodes[code] = struct{}{}
		g.refreshToken = opaque(96)
		s.refreshTokens[g.refreshToken] = &refreshToken{family: g.refreshToken}

	default:
		return aadError(req, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", grantType))
	}

	if !g.appOnly {
		if version == 1 {
			if g.resource = form.Get("resource"); g.resource == "" {
				g.resource = partnerCenterResource
			}
			g.scope = "user_impersonation"
		} else if g.scope = form.Get("scope"); g.scope == "" {
			g.scope = partnerCenterResource + "/user_impersonation"
		}
	}

	access := opaque(64)
	expires := req.now.Add(s.opts.TokenTTL)
	s.tokens[access] = accessToken{appOnly: g.appOnly, clientID: clientID, tenant: strings.ToLower(req.params["tenant"]), expiresAt: expires}
	ttl := int64(s.opts.TokenTTL / time.Second)

	if version == 1 {
		return jsonResponse(http.StatusOK, tokenResponseV1{
			TokenType:    "Bearer",
			Scope:        g.scope,
			ExpiresIn:    strconv.FormatInt(ttl, 10),
			ExtExpiresIn: strconv.FormatInt(ttl, 10),
			ExpiresOn:    strconv.FormatInt(expires.Unix(), 10),
			NotBefore:    strconv.FormatInt(req.now.Unix(), 10),
			Resource:     g.resource,
			AccessToken:  access,
			RefreshToken: g.refreshToken,
		})
	}
	return jsonResponse(http.StatusOK, tokenResponseV2{
		TokenType:    "Bearer",
		Scope:        g.scope,
		ExpiresIn:    ttl,
		ExtExpiresIn: ttl,
		AccessToken:  access,
		RefreshToken: g.refreshToken,
	})
}

// basicAuth parses HTTP Basic client authentication. Per RFC 6749 §2.3.1
// the id and secret are form-encoded before base64.
func basicAuth(h http.Header) (user, pass string, ok bool) {
	scheme, encoded, _ := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	if !ok {
		return "", "", false
	}
	if u, err := url.QueryUnescape(user); err == nil {
		user = u
	}
	if p, err := url.QueryUnescape(pass); err == nil {
		pass = p
	}
	return user, pass, true
}
