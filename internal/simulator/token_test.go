package simulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestTokenV1RefreshGrant(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())

	res := b.form(t, "/"+tenant+"/oauth2/token", url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {"refresh-from-consent"},
		"client_id":     {"app"},
		"client_secret": {"secret"},
		"resource":      {"https://api.partnercenter.microsoft.com"},
		"scope":         {"openid"},
	})
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Equal(t, "no-store, no-cache", res.header.Get("Cache-Control"))

	var raw map[string]any
	require.NoError(t, json.Unmarshal(res.body, &raw))
	require.Equal(t, "Bearer", raw["token_type"])
	require.Equal(t, "3600", raw["expires_in"], "v1 sends expires_in as a string")
	require.Equal(t, "https://api.partnercenter.microsoft.com", raw["resource"])
	require.Equal(t, "user_impersonation", raw["scope"])
	require.Equal(t, strconv.FormatInt(b.clock.Now().Add(time.Hour).Unix(), 10), raw["expires_on"])
	access, _ := raw["access_token"].(string)
	require.NotEmpty(t, access)
	refresh, _ := raw["refresh_token"].(string)
	require.NotEmpty(t, refresh)
	require.NotEqual(t, "refresh-from-consent", refresh)

	// An app+user token is accepted by the product-upgrade endpoints.
	res = b.post(t, "/v1/productUpgrades/eligibility", access, upgradeBody("c1958bc7-3284-4952-a257-de594ee64743"))
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
}

func TestTokenV2RefreshRotates(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())

	refresh := func(rt string) (access, next string) {
		t.Helper()
		res := b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {rt},
			"client_id":     {"app"},
			"scope":         {"https://api.partnercenter.microsoft.com/user_impersonation offline_access"},
		}, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("app:secret")))
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var tok struct {
			TokenType    string `json:"token_type"`
			ExpiresIn    any    `json:"expires_in"`
			Scope        string `json:"scope"`
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		require.NoError(t, json.Unmarshal(res.body, &tok))
		require.Equal(t, "Bearer", tok.TokenType)
		require.InDelta(t, 3600, tok.ExpiresIn, 0, "v2 sends expires_in as a number")
		require.Equal(t, "https://api.partnercenter.microsoft.com/user_impersonation offline_access", tok.Scope)
		require.NotEmpty(t, tok.AccessToken)
		require.NotEmpty(t, tok.RefreshToken)
		require.NotEqual(t, rt, tok.RefreshToken)
		return tok.AccessToken, tok.RefreshToken
	}

	a1, r1 := refresh("first")
	a2, r2 := refresh(r1)
	require.NotEqual(t, a1, a2)
	require.NotEqual(t, r1, r2)
	// The rotated-out token stays valid, but the reuse is recorded as stale.
	_, r3 := refresh(r1)
	require.NotEqual(t, r2, r3)

	rot := b.sim.RefreshRotations()
	require.Len(t, rot, 3)
	require.Equal(t, simulator.RefreshRotation{Presented: "first", Issued: r1, At: b.clock.Now()}, rot[0])
	require.Equal(t, r1, rot[1].Presented)
	require.Equal(t, r2, rot[1].Issued)
	require.False(t, rot[1].Stale)
	require.True(t, rot[2].Stale)

	res := b.post(t, "/v1/productUpgrades/eligibility", a2, upgradeBody("c1958bc7-3284-4952-a257-de594ee64743"))
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)

	// Revoking any token of the chain ends the whole chain.
	b.sim.RevokeRefreshToken(r2)
	for _, rt := range []string{"first", r1, r2, r3} {
		e := b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"app"},
		}).aad(t, http.StatusBadRequest, "invalid_grant")
		require.True(t, strings.HasPrefix(e.ErrorDescription, "AADSTS70000: "), e.ErrorDescription)
	}
	// A token from another consent is unaffected.
	refresh("other-consent")
}

func TestTokenClientCredentialsIsAppOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())

	v1 := b.form(t, "/"+tenant+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"secret"},
		"resource": {"https://graph.windows.net"},
	})
	v2 := b.form(t, "/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "scope": {"https://api.partnercenter.microsoft.com/.default"},
	}, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("app:secret")))

	for _, res := range []result{v1, v2} {
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var raw map[string]any
		require.NoError(t, json.Unmarshal(res.body, &raw))
		require.Equal(t, "Bearer", raw["token_type"])
		require.NotContains(t, raw, "refresh_token", "client credentials never yield a refresh token")
		access, _ := raw["access_token"].(string)
		require.NotEmpty(t, access)

		f := b.post(t, "/v1/productUpgrades/eligibility", access, upgradeBody("c1958bc7-3284-4952-a257-de594ee64743")).
			requireFault(t, http.StatusForbidden, "900329")
		require.Contains(t, f.Description, "does not support application-only authentication")
	}
}

func TestTokenAuthorizationCodeOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {"code-1"}, "client_id": {"app"}, "client_secret": {"secret"},
		"resource": {"https://api.partnercenter.microsoft.com"}, "redirect_uri": {"http://localhost"},
	}
	res := b.form(t, "/"+tenant+"/oauth2/token", form)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Contains(t, string(res.body), `"refresh_token"`)

	e := b.form(t, "/"+tenant+"/oauth2/token", form).aad(t, http.StatusBadRequest, "invalid_grant")
	require.Equal(t, []int{54005}, e.ErrorCodes)
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())

	tests := []struct {
		name    string
		path    string
		form    url.Values
		status  int
		errCode string
		aadsts  int
	}{
		{
			name:    "unsupported grant",
			path:    "/common/oauth2/v2.0/token",
			form:    url.Values{"grant_type": {"password_please"}, "client_id": {"app"}},
			status:  http.StatusBadRequest,
			errCode: "unsupported_grant_type",
			aadsts:  70003,
		},
		{
			name:    "missing grant type",
			path:    "/common/oauth2/token",
			form:    url.Values{"client_id": {"app"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_request",
			aadsts:  900144,
		},
		{
			name:    "missing client id",
			path:    "/common/oauth2/token",
			form:    url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_request",
			aadsts:  900144,
		},
		{
			name:    "missing refresh token",
			path:    "/common/oauth2/v2.0/token",
			form:    url.Values{"grant_type": {"refresh_token"}, "client_id": {"app"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_request",
			aadsts:  900144,
		},
		{
			name:    "v1 client credentials need a resource",
			path:    "/" + tenant + "/oauth2/token",
			form:    url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_request",
			aadsts:  900144,
		},
		{
			name:    "v2 client credentials need a scope",
			path:    "/" + tenant + "/oauth2/v2.0/token",
			form:    url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_request",
			aadsts:  900144,
		},
		{
			name: "v2 client credentials need a .default scope",
			path: "/" + tenant + "/oauth2/v2.0/token",
			form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"},
				"scope": {"https://api.partnercenter.microsoft.com/user_impersonation"}},
			status:  http.StatusBadRequest,
			errCode: "invalid_scope",
			aadsts:  1002012,
		},
		{
			name:    "client credentials need a secret",
			path:    "/" + tenant + "/oauth2/token",
			form:    url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "resource": {"https://graph.windows.net"}},
			status:  http.StatusUnauthorized,
			errCode: "invalid_client",
			aadsts:  7000218,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := b.form(t, tt.path, tt.form).aad(t, tt.status, tt.errCode)
			require.Equal(t, []int{tt.aadsts}, e.ErrorCodes)
		})
	}

	t.Run("json body is not a form", func(t *testing.T) {
		t.Parallel()
		res := b.post(t, "/common/oauth2/token", "", map[string]string{"grant_type": "client_credentials"})
		res.aad(t, http.StatusBadRequest, "invalid_request")
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodGet, b.srv.URL+"/common/oauth2/v2.0/token", nil)
		require.NoError(t, err)
		res := b.do(t, req)
		res.aad(t, http.StatusMethodNotAllowed, "invalid_request")
		require.Equal(t, http.MethodPost, res.header.Get("Allow"))
	})
}

func TestTokenExpires(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.TokenTTL = 10 * time.Minute
	b := setup(t, opts)
	tok := b.userToken(t)
	customer := "c1958bc7-3284-4952-a257-de594ee64743"

	b.clock.Advance(10*time.Minute - time.Second)
	require.Equal(t, http.StatusOK, b.post(t, "/v1/productUpgrades/eligibility", tok, upgradeBody(customer)).status)

	b.clock.Advance(time.Second)
	res := b.post(t, "/v1/productUpgrades/eligibility", tok, upgradeBody(customer))
	res.requireFault(t, http.StatusUnauthorized, "400")
	require.Equal(t, `Bearer error="invalid_token"`, res.header.Get("WWW-Authenticate"))
}
