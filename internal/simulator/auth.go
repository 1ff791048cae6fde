package simulator

import (
	"net/http"
	"strings"
	"time"
)

// accessToken is an issued bearer token.
type accessToken struct {
	// appOnly is true for client-credentials tokens, false for app+user
	// tokens (refresh token or authorization code grants). App+user tokens
	// are taken to satisfy the MFA requirement.
	appOnly   bool
	clientID  string
	tenant    string // lower-cased tenant of the token endpoint path
	expiresAt time.Time
}

// authenticate checks the bearer token of a Partner Center request. On
// success it stores the token in req. The caller holds s.mu.
func (s *Simulator) authenticate(rt *route, req *request) (response, bool) {
	scheme, raw, _ := strings.Cut(strings.TrimSpace(req.header.Get("Authorization")), " ")
	raw = strings.TrimSpace(raw)
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return unauthorized(codeTokenMissing, descTokenMissing), false
	}
	tok, ok := s.tokens[raw]
	if !ok {
		return unauthorized(codeAccessDenied, descAccessDenied+": the access token is not valid."), false
	}
	if !req.now.Before(tok.expiresAt) {
		return unauthorized(codeAccessDenied, descAccessDenied+": the access token has expired."), false
	}
	if rt.auth == authAppUser && tok.appOnly {
		req.token = tok
		return partnerError(http.StatusForbidden, codeAppOnlyNotSupported, descAppOnlyNotSupported), false
	}
	req.token = tok
	return response{}, true
}

// unauthorized is a 401 with the challenge Partner Center sends.
func unauthorized(code int, description string) response {
	resp := partnerError(http.StatusUnauthorized, code, description)
	resp.header.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return resp
}
