package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.RateLimits = map[string]simulator.RateLimit{
		simulator.OpTransitionEligibilities: {Limit: 2, Per: 10 * time.Second, Scope: simulator.ScopePartnerCustomer},
	}
	b := setup(t, opts)
	token := b.appToken(t)
	c, s := uuid.NewString(), uuid.NewString()
	path := subPath(c, s, "transitionEligibilities")

	require.Equal(t, http.StatusOK, b.get(t, path, token).status)
	require.Equal(t, http.StatusOK, b.get(t, path, token).status)
	res := b.get(t, path, token)
	require.Equal(t, http.StatusTooManyRequests, res.status)
	require.Equal(t, "5", res.header.Get("Retry-After"), "one token every 5s")
	require.JSONEq(t, `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 5 seconds."}`, string(res.body))

	// Another customer has its own bucket.
	require.Equal(t, http.StatusOK, b.get(t, subPath(uuid.NewString(), s, "transitionEligibilities"), token).status)
	require.Zero(t, b.sim.Stats().RetryAfterViolations)

	// Arriving early is a violation (and is throttled again).
	b.clock.Advance(2 * time.Second)
	res = b.get(t, path, token)
	require.Equal(t, http.StatusTooManyRequests, res.status)
	require.Equal(t, "3", res.header.Get("Retry-After"))
	require.Equal(t, 1, b.sim.Stats().RetryAfterViolations)

	// Waiting as told succeeds and is no violation.
	b.clock.Advance(3 * time.Second)
	require.Equal(t, http.StatusOK, b.get(t, path, token).status)
	st := b.sim.Stats()
	require.Equal(t, 1, st.RetryAfterViolations)
	require.Equal(t, 2, st.Calls[simulator.OpTransitionEligibilities]["429"])
	require.Equal(t, 2, st.Totals.RateLimited)
}

func TestTokenExpiryWithSpeedupAndRotation(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.TokenTTL = time.Minute
	opts.ClockSpeedup = 2
	b := setup(t, opts)
	token := b.userToken(t)
	path := subPath(uuid.NewString(), uuid.NewString(), "upgrades")
	require.Equal(t, http.StatusOK, b.get(t, path, token).status)
	b.clock.Advance(29 * time.Second) // 58s simulated
	require.Equal(t, http.StatusOK, b.get(t, path, token).status)
	b.clock.Advance(2 * time.Second) // 62s simulated
	res := b.get(t, path, token)
	require.Equal(t, http.StatusUnauthorized, res.status)
	require.Equal(t, `Bearer error="invalid_token"`, res.header.Get("WWW-Authenticate"))
	require.Equal(t, 1, b.sim.Stats().Unauthenticated)

	// Rotation: the refresh token issued replaces the one presented.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-0"}, "client_id": {"app"}, "client_secret": {"secret"}, "scope": {"https://api.partnercenter.microsoft.com/.default"}}
	res = b.form(t, "/"+tenant+"/oauth2/v2.0/token", form)
	require.Equal(t, http.StatusOK, res.status)
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(res.body, &tok))
	require.NotEqual(t, "rt-0", tok.RefreshToken)
	form.Set("refresh_token", tok.RefreshToken)
	require.Equal(t, http.StatusOK, b.form(t, "/"+tenant+"/oauth2/v2.0/token", form).status)
	rot := b.sim.RefreshRotations()
	require.Equal(t, tok.RefreshToken, rot[len(rot)-1].Presented)
	require.False(t, rot[len(rot)-1].Stale)
}

func TestServerErrorShare(t *testing.T) {
	t.Parallel()
	run := func(seed int64) (codes []int) {
		opts := simulator.DefaultOptions()
		opts.Seed = seed
		opts.Faults = map[string]simulator.Fault{"*": {Share500: 0.1, Share503: 0.1, RetryAfter503: 2 * time.Second}}
		b := setup(t, opts)
		token := b.appToken(t)
		path := subPath(uuid.NewString(), uuid.NewString(), "upgrades")
		for range 1000 {
			res := b.get(t, path, token)
			codes = append(codes, res.status)
			switch res.status {
			case http.StatusServiceUnavailable:
				require.Equal(t, "2", res.header.Get("Retry-After"))
				res.requireFault(t, http.StatusServiceUnavailable, "503")
			case http.StatusInternalServerError:
				res.requireFault(t, http.StatusInternalServerError, "800003")
			}
		}
		return codes
	}
	a := run(1)
	n500, n503 := 0, 0
	for _, c := range a {
		switch c {
		case 500:
			n500++
		case 503:
			n503++
		}
	}
	require.InDelta(t, 100, n500, 40)
	require.InDelta(t, 100, n503, 40)
	require.Equal(t, a, run(1), "deterministic for a seed")
	require.NotEqual(t, a, run(2))
}

func TestServerErrorRetrySucceeds(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Faults = map[string]simulator.Fault{simulator.OpProductUpgradeCreate: {Share500: 0.5}}
	b := setup(t, opts)
	token := b.userToken(t)
	for range 5 {
		customer := eligibleCustomer(t, b.sim, func(o simulator.Outcome) bool { return o.Eligible })
		rid := uuid.NewString()
		ok := false
		for range 30 {
			res := b.post(t, "/v1/productUpgrades", token, upgradeBody(customer), "MS-RequestId", rid)
			if res.status == http.StatusAccepted {
				ok = true
				break
			}
			require.Equal(t, http.StatusInternalServerError, res.status)
		}
		require.True(t, ok, "a retried request must be able to succeed")
		require.Equal(t, 1, b.sim.CreatedCount(customer))
	}
}

func TestResetAfterWorkRecordsTheUpgrade(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Faults = map[string]simulator.Fault{
		simulator.OpProductUpgradeCreate:      {ResetAfterWorkShare: 1},
		simulator.OpProductUpgradeEligibility: {ResetShare: 1},
	}
	b := setup(t, opts)
	token := b.userToken(t)
	customer := eligibleCustomer(t, b.sim, func(o simulator.Outcome) bool { return o.Eligible })
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	send := func(path string) error {
		raw, _ := json.Marshal(upgradeBody(customer))
		req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(raw))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.Error(t, send("/v1/productUpgrades/eligibility"), "reset before work")
	require.Error(t, send("/v1/productUpgrades"), "reset after work")
	require.Equal(t, 1, b.sim.CreatedCount(customer), "the lost response's work is recorded")
	st := b.sim.Stats()
	require.Equal(t, 1, st.Calls[simulator.OpProductUpgradeCreate]["reset"])
	require.Equal(t, 1, st.Calls[simulator.OpProductUpgradeEligibility]["reset"])
	require.Equal(t, 2, st.Totals.Resets)
}

func TestMalformedBody(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Faults = map[string]simulator.Fault{"*": {MalformedShare: 1}}
	b := setup(t, opts)
	res := b.get(t, subPath(uuid.NewString(), uuid.NewString(), "upgrades"), b.appToken(t))
	require.Equal(t, http.StatusOK, res.status)
	require.False(t, json.Valid(res.body))
}

func TestTokenOutageAndPinnedCredentials(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.TokenOutage = simulator.TokenOutage{From: 10 * time.Second, To: 20 * time.Second, RetryAfter: 3 * time.Second}
	opts.PinCredentials = &simulator.Credentials{ClientID: "app", ClientSecret: "secret"}
	b := setup(t, opts)
	b.appToken(t)
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"wrong"}, "resource": {"https://graph.windows.net"}}
	b.form(t, "/"+tenant+"/oauth2/token", bad).aad(t, http.StatusUnauthorized, "invalid_client")
	bad.Set("client_id", "other")
	b.form(t, "/"+tenant+"/oauth2/token", bad).aad(t, http.StatusUnauthorized, "invalid_client")

	b.clock.Advance(15 * time.Second)
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"secret"}, "resource": {"https://graph.windows.net"}}
	res := b.form(t, "/"+tenant+"/oauth2/token", good)
	res.aad(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	require.Equal(t, "3", res.header.Get("Retry-After"))
	b.clock.Advance(10 * time.Second)
	require.Equal(t, http.StatusOK, b.form(t, "/"+tenant+"/oauth2/token", good).status)
	require.Equal(t, 1, b.sim.Stats().Totals.TokenOutages)
}

func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	require.Equal(t, http.StatusUnauthorized, b.get(t, subPath(uuid.NewString(), uuid.NewString(), "upgrades"), "").status)
	res := b.get(t, "/_sim/stats", "")
	require.Equal(t, http.StatusOK, res.status)
	var st map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.body, &st))
	for _, k := range []string{"calls", "creates_per_customer", "duplicates", "retry_after_violations", "unauthenticated", "peak_concurrency", "totals"} {
		require.Contains(t, st, k)
	}
	require.JSONEq(t, "1", string(st["unauthenticated"]))
	require.JSONEq(t, "1", string(st["peak_concurrency"]))
	require.JSONEq(t, `{"subscription_upgrades":{"401":1}}`, string(st["calls"]))
}

// A 500 or 503 after the work: the work is recorded, the client sees a
// server error, and a repeat of the same MS-RequestId gets the real answer
// (once the fault, drawn per attempt, spares it).
func TestServerErrorAfterWorkKeepsTheAnswerForReplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  simulator.Fault
		status int
	}{
		{"500", simulator.Fault{Share500AfterWork: 0.5}, http.StatusInternalServerError},
		{"503", simulator.Fault{Share503AfterWork: 0.5}, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := simulator.DefaultOptions()
			opts.Faults = map[string]simulator.Fault{simulator.OpSubscriptionUpgradeCreate: tc.fault}
			b := setup(t, opts)
			token := b.appToken(t)
			var c, s, body, requestID string
			for range 30 {
				var it upgradeItemWire
				c, s, it = eligibleUpgrade(t, b, token)
				body = fmt.Sprintf(`{"targetOffer":{"id":%q},"upgradeType":"upgrade_only","isEligible":true,"quantity":%d}`, it.TargetOffer.ID, it.Quantity)
				requestID = uuid.NewString()
				first := b.post(t, subPath(c, s, "upgrades"), token, body, "MS-RequestId", requestID)
				if first.status == tc.status {
					break
				}
				require.Equal(t, http.StatusOK, first.status, "body: %s", first.body)
				c = ""
			}
			require.NotEmpty(t, c, "a first perform got the fault")
			require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(c, s), "the work was done")
			require.Equal(t, 1, b.sim.Stats().Calls[simulator.OpSubscriptionUpgradeCreate][strconv.Itoa(tc.status)])

			// After the upgrade the source is listed as not active.
			list := b.get(t, subPath(c, s, "upgrades"), token)
			var col collectionWire[upgradeItemWire]
			require.NoError(t, json.Unmarshal(list.body, &col))
			require.NotEmpty(t, col.Items)
			for _, p := range col.Items {
				require.False(t, p.IsEligible, "%+v", p)
				require.Len(t, p.UpgradeErrors, 1)
				require.JSONEq(t, "2", string(p.UpgradeErrors[0].Code))
			}

			repeats := 0
			for again := (result{status: tc.status}); again.status != http.StatusOK; repeats++ {
				require.Less(t, repeats, 30, "a repeat got through")
				again = b.post(t, subPath(c, s, "upgrades"), token, body, "MS-RequestId", requestID)
				if again.status == http.StatusOK {
					require.Contains(t, string(again.body), "targetSubscriptionId")
				} else {
					require.Equal(t, tc.status, again.status, "body: %s", again.body)
				}
			}
			require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(c, s))
			require.Equal(t, repeats, b.sim.Requests()[simulator.OpSubscriptionUpgradeCreate+"_replayed"])
		})
	}
}
