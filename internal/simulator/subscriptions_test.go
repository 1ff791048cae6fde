package simulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// get sends a GET with a bearer token and extra headers as name, value pairs.
func (b *testBundle) get(t *testing.T, path, token string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(t, req)
}

type upgradeItemWire struct {
	TargetOffer struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"targetOffer"`
	UpgradeType   json.RawMessage `json:"upgradeType"`
	IsEligible    bool            `json:"isEligible"`
	Quantity      int             `json:"quantity"`
	UpgradeErrors []struct {
		Code        json.RawMessage `json:"code"`
		Description string          `json:"description"`
	} `json:"upgradeErrors"`
}

type collectionWire[T any] struct {
	TotalCount int `json:"totalCount"`
	Items      []T `json:"items"`
	Attributes struct {
		ObjectType string `json:"objectType"`
	} `json:"attributes"`
}

func subPath(c, s, rest string) string {
	return "/v1/customers/" + c + "/subscriptions/" + s + "/" + rest
}

// eligibleUpgrade finds a customer/subscription pair with an eligible
// upgrade path and returns it with the item.
func eligibleUpgrade(t *testing.T, b *testBundle, token string) (string, string, upgradeItemWire) {
	t.Helper()
	for range 200 {
		c, s := uuid.NewString(), uuid.NewString()
		res := b.get(t, subPath(c, s, "upgrades"), token)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var col collectionWire[upgradeItemWire]
		require.NoError(t, json.Unmarshal(res.body, &col))
		require.Equal(t, len(col.Items), col.TotalCount)
		require.Equal(t, "Collection", col.Attributes.ObjectType)
		for _, it := range col.Items {
			var typ string
			require.NoError(t, json.Unmarshal(it.UpgradeType, &typ), "upgradeType must be a string")
			require.Contains(t, []string{"upgrade_only", "upgrade_with_license_transfer"}, typ)
			for _, e := range it.UpgradeErrors {
				var code int
				require.NoError(t, json.Unmarshal(e.Code, &code), "code must be an integer")
			}
			if it.IsEligible {
				require.Empty(t, it.UpgradeErrors)
				return c, s, it
			}
			require.NotEmpty(t, it.UpgradeErrors)
		}
	}
	t.Fatal("no eligible upgrade path")
	return "", "", upgradeItemWire{}
}

func TestSubscriptionUpgradeLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	token := b.appToken(t)
	c, s, it := eligibleUpgrade(t, b, token)

	// PascalCase body, integer UpgradeType, as the docs sample.
	body := fmt.Sprintf(`{"TargetOffer":{"Id":%q,"Name":%q},"UpgradeType":1,"IsEligible":true,"Quantity":%d}`, it.TargetOffer.ID, it.TargetOffer.Name, it.Quantity)
	res := b.post(t, "/V1/Customers/"+c+"/Subscriptions/"+s+"/Upgrades", token, body, "MS-CorrelationId", "corr-1")
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Equal(t, "corr-1", res.header.Get("MS-CorrelationId"))
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.JSONEq(t, "1", string(out["upgradeType"]))
	require.JSONEq(t, fmt.Sprintf("%q", s), string(out["sourceSubscriptionId"]))
	require.NotEmpty(t, out["targetSubscriptionId"])
	require.JSONEq(t, "[]", string(out["licenseErrors"]))
	require.JSONEq(t, "[]", string(out["upgradeErrors"]))

	// The source is no longer active.
	b.post(t, subPath(c, s, "upgrades"), token, body).requireFault(t, http.StatusBadRequest, "800012")
	// A target that is not an eligible path.
	other := uuid.NewString()
	b.post(t, subPath(c, other, "upgrades"), token, `{"targetOffer":{"id":"00000000-0000-0000-0000-000000000000"},"upgradeType":"upgrade_only"}`).
		requireFault(t, http.StatusBadRequest, "800002")

	st := b.sim.Stats()
	require.Equal(t, 1, st.CreatesPerCustomer[c])
	require.Empty(t, st.Duplicates)
}

func TestSubscriptionUpgradeLicenseErrors(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.LicenseErrorShare = 1
	b := setup(t, opts)
	user := b.userToken(t)
	c, s, it := eligibleUpgrade(t, b, user)
	body := map[string]any{"targetOffer": map[string]string{"id": it.TargetOffer.ID}, "upgradeType": "upgrade_with_license_transfer"}

	// App-only cannot transfer licenses.
	app := b.appToken(t)
	res := b.post(t, subPath(c, s, "upgrades"), app, body)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Contains(t, string(res.body), `"code":5`)

	res = b.post(t, subPath(c, s, "upgrades"), user, body)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var out struct {
		UpgradeType   int `json:"upgradeType"`
		LicenseErrors []struct {
			UserObjectID string            `json:"userObjectId"`
			Name         string            `json:"name"`
			Email        string            `json:"email"`
			Errors       []json.RawMessage `json:"errors"`
		} `json:"licenseErrors"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Equal(t, 2, out.UpgradeType)
	require.NotEmpty(t, out.LicenseErrors)
	require.NotEmpty(t, out.LicenseErrors[0].Email)
	require.NotEmpty(t, out.LicenseErrors[0].Errors)
}

type transitionWire struct {
	OperationID     string `json:"operationId"`
	ToCatalogItemID string `json:"toCatalogItemId"`
	TransitionType  string `json:"transitionType"`
	Events          []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"events"`
}

func TestTransitionLifecycle(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.FailShare = 0
	b := setup(t, opts)
	token := b.userToken(t)

	var c, s, catalogItem string
	for c == "" {
		cc, ss := uuid.NewString(), uuid.NewString()
		res := b.get(t, subPath(cc, ss, "transitionEligibilities?eligibilityType=immediate"), token)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		var col collectionWire[struct {
			OperationID   string `json:"operationId"`
			CatalogItemID string `json:"catalogItemId"`
			Eligibilities []struct {
				IsEligible     bool   `json:"isEligible"`
				TransitionType string `json:"transitionType"`
			} `json:"eligibilities"`
			SubscriptionEligibilities []json.RawMessage `json:"subscriptionEligibilities"`
		}]
		require.NoError(t, json.Unmarshal(res.body, &col))
		for _, it := range col.Items {
			require.NotEmpty(t, it.OperationID)
			require.NotNil(t, it.SubscriptionEligibilities)
			for _, e := range it.Eligibilities {
				if e.IsEligible && e.TransitionType == "transition_with_license_transfer" {
					c, s, catalogItem = cc, ss, it.CatalogItemID
				}
			}
		}
	}
	body := map[string]any{"ToCatalogItemId": catalogItem, "Quantity": 3, "TransitionType": "transition_with_license_transfer"}
	res := b.post(t, subPath(c, s, "transitions"), token, body)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var tr transitionWire
	require.NoError(t, json.Unmarshal(res.body, &tr))
	require.NotEmpty(t, tr.OperationID)
	require.Len(t, tr.Events, 1)
	require.Equal(t, "Conversion", tr.Events[0].Name)
	require.Equal(t, "Started", tr.Events[0].Status)

	b.post(t, subPath(c, s, "transitions"), token, body).requireFault(t, http.StatusConflict, "900278")

	b.clock.Advance(opts.MaxDuration + time.Second)
	res = b.get(t, subPath(c, s, "transitions?operationId="+tr.OperationID), token)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var col collectionWire[transitionWire]
	require.NoError(t, json.Unmarshal(res.body, &col))
	require.Len(t, col.Items, 1)
	var names []string
	for _, e := range col.Items[0].Events {
		names = append(names, e.Name+"/"+e.Status)
	}
	require.Equal(t, []string{"Conversion/Started", "LicenseReassignment/Started", "LicenseReassignment/Completed", "Conversion/Completed"}, names)

	// A second transition after the first finished is created, and counted.
	res = b.post(t, subPath(c, s, "transitions"), token, body)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	res = b.get(t, subPath(c, s, "transitions"), token)
	require.NoError(t, json.Unmarshal(res.body, &col))
	require.Len(t, col.Items, 2)
	st := b.sim.Stats()
	require.Equal(t, 2, st.CreatesPerCustomer[c])
	require.Equal(t, 2, st.Duplicates[c+"/"+s])
}

func TestSubscriptionDeterminism(t *testing.T) {
	t.Parallel()
	mk := func(seed int64) *testBundle {
		o := simulator.DefaultOptions()
		o.Seed = seed
		return setup(t, o)
	}
	a, same, other := mk(7), mk(7), mk(8)
	ta, ts, to := a.appToken(t), same.appToken(t), other.appToken(t)
	differs := false
	for range 10 {
		c, s := uuid.NewString(), uuid.NewString()
		for _, rest := range []string{"upgrades", "transitionEligibilities"} {
			ra := a.get(t, subPath(c, s, rest), ta)
			require.Equal(t, http.StatusOK, ra.status)
			require.Equal(t, string(ra.body), string(same.get(t, subPath(c, s, rest), ts).body))
			require.Equal(t, string(ra.body), string(a.get(t, subPath(c, s, rest), ta).body), "stable across calls")
			if string(ra.body) != string(other.get(t, subPath(c, s, rest), to).body) {
				differs = true
			}
		}
	}
	require.True(t, differs, "another seed gives another world")
}
