package simulator

import (
	"net/http"
	"strings"
)

// family selects the error shape of a route: Azure AD for the token
// endpoints, Partner Center for everything else.
type family int

const (
	familyPartner family = iota
	familyAAD
)

// authRequirement is what a route needs in the Authorization header.
type authRequirement int

const (
	authNone    authRequirement = iota // token endpoints
	authAppUser                        // a bearer token minted for app+user; app-only gets 403/900329
	authAny                            // any valid bearer token (app-only or app+user)
)

// route is one endpoint of the simulator.
type route struct {
	method  string
	pattern []string // path segments; literals compare case-insensitively, "{name}" captures
	op      string
	family  family
	auth    authRequirement
	// idempotent routes replay the stored response of a repeated
	// MS-RequestId (see idempotency.go).
	idempotent bool
	handle     func(s *Simulator, req *request) response
}

// newRoute builds a route from a pattern such as "/v1/productUpgrades/{id}/status".
func newRoute(method, pattern, op string, handle func(*Simulator, *request) response) route {
	return route{
		method:  method,
		pattern: splitPath(pattern),
		op:      op,
		handle:  handle,
	}
}

// routes returns every endpoint the simulator serves. Partner Center routes
// come first so that "/v1/..." is never taken for a tenant name.
func routes() []route {
	partner := func(method, pattern, op string, handle func(*Simulator, *request) response) route {
		r := newRoute(method, pattern, op, handle)
		r.family, r.auth, r.idempotent = familyPartner, authAppUser, method == http.MethodPost
		return r
	}
	sub := func(method, pattern, op string, handle func(*Simulator, *request) response) route {
		r := partner(method, "/v1/customers/{customerId}/subscriptions/{subscriptionId}/"+pattern, op, handle)
		r.auth = authAny
		return r
	}
	aad := func(pattern string, handle func(*Simulator, *request) response) route {
		r := newRoute(http.MethodPost, pattern, OpToken, handle)
		r.family = familyAAD
		return r
	}
	return []route{
		partner(http.MethodPost, "/v1/productUpgrades/eligibility", OpProductUpgradeEligibility, (*Simulator).productUpgradeEligibility),
		partner(http.MethodPost, "/v1/productUpgrades", OpProductUpgradeCreate, (*Simulator).productUpgradeCreate),
		partner(http.MethodPost, "/v1/productUpgrades/{upgradeId}/status", OpProductUpgradeStatus, (*Simulator).productUpgradeStatus),
		sub(http.MethodGet, "upgrades", OpSubscriptionUpgrades, (*Simulator).subscriptionUpgrades),
		sub(http.MethodPost, "upgrades", OpSubscriptionUpgradeCreate, (*Simulator).subscriptionUpgradeCreate),
		sub(http.MethodGet, "transitionEligibilities", OpTransitionEligibilities, (*Simulator).transitionEligibilities),
		sub(http.MethodPost, "transitions", OpTransitionCreate, (*Simulator).transitionCreate),
		sub(http.MethodGet, "transitions", OpTransitions, (*Simulator).transitionList),
		aad("/{tenant}/oauth2/token", (*Simulator).tokenV1),
		aad("/{tenant}/oauth2/v2.0/token", (*Simulator).tokenV2),
	}
}

// match finds the route for method and path. When the path matches only
// routes with other methods it returns those methods in allowed.
func (s *Simulator) match(method, path string) (rt *route, params map[string]string, allowed []string) {
	segments := splitPath(path)
	for i := range s.routes {
		p, ok := matchSegments(s.routes[i].pattern, segments)
		if !ok {
			continue
		}
		if s.routes[i].method == method {
			return &s.routes[i], p, nil
		}
		allowed = append(allowed, s.routes[i].method)
	}
	return nil, nil, allowed
}

// pathFamily guesses the error shape for a path served only with other methods.
func pathFamily(path string) family {
	if strings.Contains(strings.ToLower(path), "/oauth2/") {
		return familyAAD
	}
	return familyPartner
}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func matchSegments(pattern, segments []string) (map[string]string, bool) {
	if len(pattern) != len(segments) {
		return nil, false
	}
	var params map[string]string
	for i, p := range pattern {
		seg := segments[i]
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if seg == "" {
				return nil, false
			}
			if params == nil {
				params = make(map[string]string)
			}
			params[p[1:len(p)-1]] = seg
			continue
		}
		if !strings.EqualFold(p, seg) {
			return nil, false
		}
	}
	return params, true
}
