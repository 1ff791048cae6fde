package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

type upgradeResultWire struct {
	SourceSubscriptionID string `json:"sourceSubscriptionId"`
	TargetSubscriptionID string `json:"targetSubscriptionId"`
	UpgradeType          int    `json:"upgradeType"`
	UpgradeErrors        []struct {
		Code int `json:"code"`
	} `json:"upgradeErrors"`
	LicenseErrors []struct {
		UserObjectID string `json:"userObjectId"`
	} `json:"licenseErrors"`
}

type transitionEligibilityWire struct {
	CatalogItemID string `json:"catalogItemId"`
	Quantity      int    `json:"quantity"`
	Eligibilities []struct {
		IsEligible     bool   `json:"isEligible"`
		TransitionType string `json:"transitionType"`
	} `json:"eligibilities"`
	SubscriptionEligibilities []struct {
		IsEligible     bool   `json:"isEligible"`
		SubscriptionID string `json:"subscriptionId"`
		Errors         []struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"errors"`
	} `json:"subscriptionEligibilities"`
}

// subPair is a customer/subscription pair under test.
type subPair struct{ c, s string }

// randomPairs returns n fresh pairs.
func randomPairs(n int) []subPair {
	out := make([]subPair, n)
	for i := range out {
		out[i] = subPair{uuid.NewString(), uuid.NewString()}
	}
	return out
}

// findPair returns a fresh pair for which want holds.
func findPair(t *testing.T, want func(subPair) bool) subPair {
	t.Helper()
	for range 10000 {
		p := subPair{uuid.NewString(), uuid.NewString()}
		if want(p) {
			return p
		}
	}
	t.Fatal("no pair with the wanted outcome")
	return subPair{}
}

// upgradePathsOverHTTP returns GET .../upgrades in the prediction's shape.
func (b *testBundle) upgradePathsOverHTTP(t *testing.T, p subPair, token string) []simulator.UpgradePath {
	t.Helper()
	res := b.get(t, subPath(p.c, p.s, "upgrades"), token)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var col collectionWire[upgradeItemWire]
	require.NoError(t, json.Unmarshal(res.body, &col))
	out := make([]simulator.UpgradePath, len(col.Items))
	for i, it := range col.Items {
		path := simulator.UpgradePath{OfferID: it.TargetOffer.ID, OfferName: it.TargetOffer.Name, Eligible: it.IsEligible}
		require.NoError(t, json.Unmarshal(it.UpgradeType, &path.UpgradeType))
		for _, e := range it.UpgradeErrors {
			var code int
			require.NoError(t, json.Unmarshal(e.Code, &code))
			path.ErrorCodes = append(path.ErrorCodes, code)
		}
		out[i] = path
	}
	return out
}

func (b *testBundle) postUpgrade(t *testing.T, p subPair, token, offerID, upgradeType string, headers ...string) result {
	t.Helper()
	body := map[string]any{"targetOffer": map[string]string{"id": offerID}, "upgradeType": upgradeType}
	return b.post(t, subPath(p.c, p.s, "upgrades"), token, body, headers...)
}

func TestPredictSubscriptionUpgradeMatchesHTTP(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.IneligibleShare = 0.2
	opts.LicenseErrorShare = 0.5
	b := setup(t, opts)
	app, user := b.appToken(t), b.userToken(t)

	// How the eligible pairs are upgraded.
	const (
		delegatedLicense = iota // app+user, upgrade_with_license_transfer
		appOnlyPlain            // app-only, upgrade_only
		appOnlyLicense          // app-only, upgrade_with_license_transfer (code 5), then delegatedLicense
	)
	type testCase struct {
		subPair
		mode int
	}
	var cases []testCase
	for i, p := range randomPairs(50) {
		cases = append(cases, testCase{p, i % 3})
	}
	// Cover every case whatever the random draw.
	predict := func(p subPair) simulator.SubscriptionUpgradeOutcome {
		return b.sim.PredictSubscriptionUpgrade(p.c, p.s)
	}
	cases = append(cases,
		testCase{findPair(t, func(p subPair) bool { o := predict(p); return o.EligibleOfferIDs() != nil && o.LicenseErrors > 0 }), delegatedLicense},
		testCase{findPair(t, func(p subPair) bool { o := predict(p); return o.EligibleOfferIDs() != nil && o.LicenseErrors == 0 }), delegatedLicense},
		testCase{findPair(t, func(p subPair) bool { return predict(p).EligibleOfferIDs() == nil }), delegatedLicense},
	)

	var withLicenseErrors, withoutLicenseErrors, noEligiblePath int
	for i, tc := range cases {
		p := tc.subPair
		msg := fmt.Sprintf("pair %d %s/%s", i, p.c, p.s)
		want := b.sim.PredictSubscriptionUpgrade(strings.ToUpper(p.c), p.s)
		require.Equal(t, want, predict(p), "case-insensitive")

		require.Equal(t, want.Paths, b.upgradePathsOverHTTP(t, p, app), msg)
		require.NotEmpty(t, want.Paths, msg)
		var eligible []string
		for _, path := range want.Paths {
			require.Contains(t, []string{"upgrade_only", "upgrade_with_license_transfer"}, path.UpgradeType, msg)
			if path.Eligible {
				require.Empty(t, path.ErrorCodes, msg)
				require.NotEmpty(t, want.TargetSubscriptionID(path.OfferID), msg)
				eligible = append(eligible, path.OfferID)
				continue
			}
			require.Len(t, path.ErrorCodes, 1, msg)
			require.Empty(t, want.TargetSubscriptionID(path.OfferID), msg)
			b.postUpgrade(t, p, user, path.OfferID, "upgrade_only").requireFault(t, http.StatusBadRequest, "800002")
		}
		require.Equal(t, eligible, want.EligibleOfferIDs(), msg)
		require.Zero(t, b.sim.SubscriptionUpgradeCount(p.c, p.s), msg)
		if len(eligible) == 0 {
			noEligiblePath++
			continue
		}

		offer := eligible[i%len(eligible)]
		if i%2 == 1 {
			offer = strings.ToLower(offer) // offer ids are compared case-insensitively
		}
		decode := func(res result) upgradeResultWire {
			t.Helper()
			require.Equal(t, http.StatusOK, res.status, "%s: body: %s", msg, res.body)
			var out upgradeResultWire
			require.NoError(t, json.Unmarshal(res.body, &out))
			require.Equal(t, p.s, out.SourceSubscriptionID, msg)
			return out
		}
		if tc.mode == appOnlyLicense {
			out := decode(b.postUpgrade(t, p, app, offer, "upgrade_with_license_transfer"))
			require.Len(t, out.UpgradeErrors, 1, msg)
			require.Equal(t, 5, out.UpgradeErrors[0].Code, msg)
			require.Empty(t, out.TargetSubscriptionID, msg)
			require.Empty(t, out.LicenseErrors, msg)
			require.Zero(t, b.sim.SubscriptionUpgradeCount(p.c, p.s), "an app-only license transfer creates nothing")
		}
		if tc.mode == appOnlyPlain {
			out := decode(b.postUpgrade(t, p, app, offer, "upgrade_only"))
			require.Equal(t, 1, out.UpgradeType, msg)
			require.Equal(t, want.TargetSubscriptionID(offer), out.TargetSubscriptionID, msg)
			require.Empty(t, out.UpgradeErrors, msg)
			require.Empty(t, out.LicenseErrors, "upgrade_only never reports license errors")
		} else {
			out := decode(b.postUpgrade(t, p, user, offer, "upgrade_with_license_transfer"))
			require.Equal(t, 2, out.UpgradeType, msg)
			require.Equal(t, want.TargetSubscriptionID(offer), out.TargetSubscriptionID, msg)
			require.Empty(t, out.UpgradeErrors, msg)
			require.Len(t, out.LicenseErrors, want.LicenseErrors, msg)
			if want.LicenseErrors > 0 {
				withLicenseErrors++
			} else {
				withoutLicenseErrors++
			}
		}
		require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(p.c, p.s), msg)
		require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(strings.ToUpper(p.c), strings.ToUpper(p.s)), msg)
		b.postUpgrade(t, p, user, offer, "upgrade_only").requireFault(t, http.StatusBadRequest, "800012")
		require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(p.c, p.s), "a rejected second upgrade is not counted")
		require.Zero(t, b.sim.TransitionCount(p.c, p.s), msg)
	}
	require.NotZero(t, withLicenseErrors)
	require.NotZero(t, withoutLicenseErrors)
	require.NotZero(t, noEligiblePath)

	st := b.sim.Stats()
	require.Empty(t, st.Duplicates)
	for _, tc := range cases {
		require.Equal(t, b.sim.SubscriptionUpgradeCount(tc.c, tc.s), st.CreatesPerCustomer[tc.c])
	}
}

// eventNames returns a transition's events as "Name/Status".
func eventNames(tr transitionWire) []string {
	var names []string
	for _, e := range tr.Events {
		names = append(names, e.Name+"/"+e.Status)
	}
	return names
}

func TestPredictTransitionMatchesHTTP(t *testing.T) {
	t.Parallel()
	const speedup = 60
	opts := simulator.DefaultOptions()
	opts.IneligibleShare = 0.2
	opts.FailShare = 0.5
	opts.MinDuration, opts.MaxDuration = 10*time.Second, 2*time.Minute
	opts.ClockSpeedup = speedup
	opts.TokenTTL = 10000 * time.Hour // simulated time runs 60× faster
	b := setup(t, opts)
	app, user := b.appToken(t), b.userToken(t)
	types := []string{"transition_only", "transition_with_license_transfer"}

	predict := func(p subPair) simulator.TransitionOutcome { return b.sim.PredictTransition(p.c, p.s) }
	eligible := func(o simulator.TransitionOutcome) bool {
		for _, tg := range o.Targets {
			if len(tg.EligibleTypes) > 0 {
				return true
			}
		}
		return false
	}
	pairs := append(randomPairs(50),
		findPair(t, func(p subPair) bool { return !eligible(predict(p)) }),
		findPair(t, func(p subPair) bool { o := predict(p); return eligible(o) && o.Fails }),
		findPair(t, func(p subPair) bool { o := predict(p); return eligible(o) && !o.Fails }),
	)

	var failed, completed, license, ineligible int
	for i, p := range pairs {
		msg := fmt.Sprintf("pair %d %s/%s", i, p.c, p.s)
		want := b.sim.PredictTransition(p.c, strings.ToUpper(p.s))
		require.Equal(t, want, predict(p), "case-insensitive")
		require.GreaterOrEqual(t, want.Duration, opts.MinDuration, msg)
		require.LessOrEqual(t, want.Duration, opts.MaxDuration, msg)

		for _, q := range []string{"transitionEligibilities?eligibilityType=immediate", "transitionEligibilities"} {
			res := b.get(t, subPath(p.c, p.s, q), app)
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			var col collectionWire[transitionEligibilityWire]
			require.NoError(t, json.Unmarshal(res.body, &col))
			got := make([]simulator.TransitionTarget, len(col.Items))
			for j, it := range col.Items {
				got[j] = simulator.TransitionTarget{CatalogItemID: it.CatalogItemID, Quantity: it.Quantity}
				for _, e := range it.Eligibilities {
					if e.IsEligible {
						got[j].EligibleTypes = append(got[j].EligibleTypes, e.TransitionType)
					}
				}
				for _, sub := range it.SubscriptionEligibilities {
					ts := simulator.TargetSubscription{SubscriptionID: sub.SubscriptionID, Eligible: sub.IsEligible}
					if len(sub.Errors) > 0 {
						ts.ErrorCode, ts.Description = sub.Errors[0].Code, sub.Errors[0].Description
					}
					got[j].Subscriptions = append(got[j].Subscriptions, ts)
				}
			}
			require.Equal(t, want.Targets, got, msg)
		}

		// Every type a target is not eligible for is rejected.
		var item, typ string
		for _, tg := range want.Targets {
			for _, ty := range types {
				if !strings.Contains(strings.Join(tg.EligibleTypes, " "), ty) {
					body := map[string]any{"toCatalogItemId": tg.CatalogItemID, "quantity": tg.Quantity, "transitionType": ty}
					b.post(t, subPath(p.c, p.s, "transitions"), user, body).requireFault(t, http.StatusBadRequest, "800002")
				} else if item == "" || (i%2 == 1 && ty == types[1]) {
					item, typ = tg.CatalogItemID, ty
				}
			}
		}
		require.Zero(t, b.sim.TransitionCount(p.c, p.s), msg)
		if item == "" {
			ineligible++
			continue
		}

		body := map[string]any{"toCatalogItemId": item, "quantity": 1 + i, "transitionType": typ}
		res := b.post(t, subPath(p.c, p.s, "transitions"), user, body)
		require.Equal(t, http.StatusOK, res.status, "%s: body: %s", msg, res.body)
		var tr transitionWire
		require.NoError(t, json.Unmarshal(res.body, &tr))
		require.Equal(t, []string{"Conversion/Started"}, eventNames(tr), msg)
		require.Equal(t, 1, b.sim.TransitionCount(strings.ToUpper(p.c), p.s), msg)
		b.post(t, subPath(p.c, p.s, "transitions"), user, body).requireFault(t, http.StatusConflict, "900278")
		require.Equal(t, 1, b.sim.TransitionCount(p.c, p.s), "a rejected transition is not counted")

		status := func() []string {
			t.Helper()
			res := b.get(t, subPath(p.c, p.s, "transitions?operationId="+tr.OperationID), app)
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			var col collectionWire[transitionWire]
			require.NoError(t, json.Unmarshal(res.body, &col))
			require.Len(t, col.Items, 1, msg)
			return eventNames(col.Items[0])
		}
		// Duration is simulated time: on the test clock it takes Duration/speedup.
		onClock := want.Duration / speedup
		b.clock.Advance(onClock - 5*time.Millisecond)
		events := status()
		require.NotContains(t, events, "Conversion/Completed", msg)
		require.NotContains(t, events, "Conversion/Failed", msg)

		b.clock.Advance(10 * time.Millisecond)
		end := "Completed"
		if want.Fails {
			end = "Failed"
			failed++
		} else {
			completed++
		}
		wantEvents := []string{"Conversion/Started", "Conversion/" + end}
		if typ == "transition_with_license_transfer" {
			license++
			wantEvents = []string{"Conversion/Started", "LicenseReassignment/Started", "LicenseReassignment/" + end, "Conversion/" + end}
		}
		require.Equal(t, wantEvents, status(), msg)
		require.Equal(t, 1, b.sim.TransitionCount(p.c, p.s), msg)
		require.Zero(t, b.sim.SubscriptionUpgradeCount(p.c, p.s), msg)
	}
	require.NotZero(t, failed)
	require.NotZero(t, completed)
	require.NotZero(t, license)
	require.NotZero(t, ineligible)
	require.Empty(t, b.sim.Stats().Duplicates)
}

// rawPost sends a POST without failing the test, for use off the test
// goroutine.
func rawPost(b *testBundle, path, token string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func TestSubscriptionCreateCounts(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.IneligibleShare = 0
	opts.FailShare = 0
	b := setup(t, opts)
	user := b.userToken(t)
	p := findPair(t, func(p subPair) bool {
		return b.sim.PredictSubscriptionUpgrade(p.c, p.s).EligibleOfferIDs() != nil
	})
	up := b.sim.PredictSubscriptionUpgrade(p.c, p.s)
	tr := b.sim.PredictTransition(p.c, p.s)
	target := tr.Targets[0]
	require.Contains(t, target.EligibleTypes, "transition_only")
	trBody, err := json.Marshal(map[string]any{"toCatalogItemId": target.CatalogItemID, "quantity": 2, "transitionType": "transition_only"})
	require.NoError(t, err)

	// Concurrent creates of one transition: exactly one is created, the
	// others get 409; the counters are read meanwhile.
	const n = 20
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			statuses[i], errs[i] = rawPost(b, subPath(p.c, p.s, "transitions"), user, trBody)
		}()
		go func() {
			defer wg.Done()
			_ = b.sim.TransitionCount(p.c, p.s) + b.sim.SubscriptionUpgradeCount(p.c, p.s)
		}()
	}
	wg.Wait()
	created := 0
	for i := range n {
		require.NoError(t, errs[i])
		if statuses[i] == http.StatusOK {
			created++
		} else {
			require.Equal(t, http.StatusConflict, statuses[i])
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, 1, b.sim.TransitionCount(p.c, p.s))
	require.Zero(t, b.sim.SubscriptionUpgradeCount(p.c, p.s))

	// A subscription upgrade of the same pair, retried with the same
	// MS-RequestId: the replay is not a second create.
	offer := up.EligibleOfferIDs()[0]
	first := b.postUpgrade(t, p, user, offer, "upgrade_only", "MS-RequestId", "req-1")
	require.Equal(t, http.StatusOK, first.status, "body: %s", first.body)
	again := b.postUpgrade(t, p, user, offer, "upgrade_only", "MS-RequestId", "req-1")
	require.Equal(t, string(first.body), string(again.body))
	require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(p.c, p.s))
	require.Equal(t, 1, b.sim.TransitionCount(p.c, p.s))

	// After the first transition finished, a second one is created.
	b.clock.Advance(tr.Duration)
	status, err := rawPost(b, subPath(p.c, p.s, "transitions"), user, trBody)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 2, b.sim.TransitionCount(strings.ToUpper(p.c), strings.ToUpper(p.s)))
	require.Equal(t, 1, b.sim.SubscriptionUpgradeCount(strings.ToUpper(p.c), strings.ToUpper(p.s)))

	// Stats counts both kinds together, per customer and per pair.
	st := b.sim.Stats()
	require.Equal(t, 3, st.CreatesPerCustomer[p.c])
	require.Equal(t, 3, st.Duplicates[p.c+"/"+p.s])

	other := uuid.NewString()
	require.Zero(t, b.sim.TransitionCount(p.c, other))
	require.Zero(t, b.sim.SubscriptionUpgradeCount(p.c, other))
}
