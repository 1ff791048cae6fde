package partnercenter

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const testSubscriptionID = "896a2862-67e2-4f3d-bb3f-c50c42b5fad8"

func TestSubscriptionUpgradesService_List(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "GET /v1/customers/{c}/subscriptions/{s}/upgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "subscription_upgrades.json"))
	})

	call := Call{RequestID: "r-list", CorrelationID: "c-list", CV: "abc.1"}
	got, resp, err := client.SubscriptionUpgrades.List(t.Context(), call, testCustomerID, testSubscriptionID)
	require.NoError(t, err)

	r := receive(t, reqs)
	require.Equal(t, "/v1/customers/"+testCustomerID+"/subscriptions/"+testSubscriptionID+"/upgrades", r.Path)
	require.Empty(t, r.Body)
	require.Equal(t, "r-list", r.Header.Get("MS-RequestId"))
	require.Equal(t, "abc.1", r.Header.Get("MS-CV"))
	require.Equal(t, "abc.1", resp.RequestCV)
	require.Equal(t, OpSubscriptionUpgradeList, resp.Operation)
	requireServerIDs(t, resp)

	require.Len(t, got, 1)
	up := got[0]
	require.Equal(t, "91FD106F-4B2C-4938-95AC-F54F74E9A239", up.TargetOffer.ID)
	require.Equal(t, "Office 365 Enterprise E1", up.TargetOffer.Name)
	require.Equal(t, 1, up.TargetOffer.MinimumQuantity)
	require.Equal(t, 10000000, up.TargetOffer.MaximumQuantity)
	require.Equal(t, &OfferProduct{ID: "18181a46-0d4e-45cd-891e-60aabd171b4e", Name: "Office 365 Enterprise E1", Unit: "Licenses"}, up.TargetOffer.Product)
	require.Equal(t, UpgradeTypeUpgradeOnly, up.UpgradeType)
	require.False(t, up.IsEligible)
	require.Equal(t, 1, up.Quantity)
	require.Len(t, up.UpgradeErrors, 1)
	require.Equal(t, UpgradeErrorSubscriptionStatusNotActive, up.UpgradeErrors[0].Code)
	require.Contains(t, up.UpgradeErrors[0].Description, "source subscription state is not active")
}

func TestSubscriptionUpgradesService_List_emptyAndEscaped(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "GET /v1/customers/{c}/subscriptions/{s}/upgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"totalCount":0,"attributes":{"objectType":"Collection"}}`))
	})
	got, _, err := client.SubscriptionUpgrades.List(t.Context(), Call{}, "a/b", "c d?")
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)
	require.Equal(t, "/v1/customers/a%2Fb/subscriptions/c%20d%3F/upgrades", receive(t, reqs).Path)
}

func TestSubscriptionUpgradesService_Perform(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "POST /v1/customers/{c}/subscriptions/{s}/upgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "subscription_upgrade_result.json"))
	})

	// The documented request sample (PascalCase, integer UpgradeType) is
	// what the caller got from List; it is sent back whole, in camelCase.
	var up Upgrade
	require.NoError(t, json.Unmarshal(fixture(t, "subscription_upgrade_request.json"), &up))
	require.Equal(t, UpgradeTypeUpgradeOnly, up.UpgradeType)
	require.Equal(t, "796B6B5F-613C-4E24-A17C-EBA730D49C02", up.TargetOffer.ID)

	got, resp, err := client.SubscriptionUpgrades.Perform(t.Context(), Call{RequestID: "r-up"}, testCustomerID, testSubscriptionID, up)
	require.NoError(t, err)
	require.Equal(t, OpSubscriptionUpgradePerform, resp.Operation)

	r := receive(t, reqs)
	require.Equal(t, "/v1/customers/"+testCustomerID+"/subscriptions/"+testSubscriptionID+"/upgrades", r.Path)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var sent map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &sent))
	require.Equal(t, "upgrade_only", sent["upgradeType"])
	require.Equal(t, true, sent["isEligible"])
	offer := sent["targetOffer"].(map[string]any)
	require.Equal(t, "796B6B5F-613C-4E24-A17C-EBA730D49C02", offer["id"])
	require.Equal(t, "Licenses", offer["product"].(map[string]any)["unit"])
	// Members Offer does not model travel back unchanged.
	require.Equal(t, "Enterprise_Key", offer["Category"].(map[string]any)["Id"])
	require.Contains(t, offer, "Links")
	require.NotContains(t, offer, "Id", "a modelled member must not be sent twice")

	require.Equal(t, &UpgradeResult{
		SourceSubscriptionID: "896a2862-67e2-4f3d-bb3f-c50c42b5fad8",
		TargetSubscriptionID: "2add8a55-454a-4ae5-a4c9-5107dc6e9768",
		UpgradeType:          UpgradeTypeUpgradeOnly,
		UpgradeErrors:        []UpgradeError{},
		LicenseErrors:        []UserLicenseError{},
	}, got)
	require.True(t, got.Succeeded())
}

func TestSubscriptionUpgradesService_Perform_licenseErrors(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	// Built for the test: the docs show only an empty licenseErrors list.
	mux.HandleFunc("POST /v1/customers/{c}/subscriptions/{s}/upgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"sourceSubscriptionId":"s1","targetSubscriptionId":"t1","upgradeType":"upgrade_with_license_transfer",
			"upgradeErrors":[{"code":"user_context_required","description":"d","additionalDetails":"more"}],
			"licenseErrors":[{"userObjectId":"u1","name":"Ann","email":"ann@example.com","errors":[{"code":60012,"description":"no license"}],"attributes":{"objectType":"UserLicenseError"}}]}`))
	})
	got, _, err := client.SubscriptionUpgrades.Perform(t.Context(), Call{}, "c", "s1", Upgrade{TargetOffer: Offer{ID: "o"}, UpgradeType: UpgradeTypeUpgradeWithLicenseTransfer})
	require.NoError(t, err)
	require.False(t, got.Succeeded())
	require.Equal(t, UpgradeTypeUpgradeWithLicenseTransfer, got.UpgradeType)
	require.Equal(t, []UpgradeError{{Code: UpgradeErrorUserContextRequired, Description: "d", AdditionalDetails: "more", WireCode: "user_context_required"}}, got.UpgradeErrors)
	require.Equal(t, []UserLicenseError{{UserObjectID: "u1", Name: "Ann", Email: "ann@example.com",
		Errors: []ServiceFault{{Code: "60012", Description: "no license"}}}}, got.LicenseErrors)
}

func TestSubscriptionUpgradesService_invalidArguments(t *testing.T) {
	t.Parallel()
	client, _, _ := setup(t)
	_, resp, err := client.SubscriptionUpgrades.List(t.Context(), Call{}, " ", "s")
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorContains(t, err, "customer id")
	require.Nil(t, resp)
	_, _, err = client.SubscriptionUpgrades.List(t.Context(), Call{}, "c", "")
	require.ErrorContains(t, err, "subscription id")
	_, resp, err = client.SubscriptionUpgrades.Perform(t.Context(), Call{}, "c", "s", Upgrade{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorContains(t, err, "target offer id")
	require.Nil(t, resp)
	require.True(t, IsTerminal(err))
}

func TestOffer_roundTrip(t *testing.T) {
	t.Parallel()
	in := `{"id":"o1","name":"n","minimumQuantity":1,"maximumQuantity":5,"isAddOn":true,"product":{"id":"p","name":"pn","unit":"Licenses"},"rank":3,"uri":"/x","links":{"self":{"uri":"/o"}},"attributes":{"objectType":"Offer"}}`
	var o Offer
	require.NoError(t, json.Unmarshal([]byte(in), &o))
	require.Equal(t, "o1", o.ID)
	require.True(t, o.IsAddOn)
	out, err := json.Marshal(o)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"o1","name":"n","minimumQuantity":1,"maximumQuantity":5,"isAddOn":true,"isAvailableForPurchase":false,"isAutoRenewable":false,
		"product":{"id":"p","name":"pn","unit":"Licenses"},"rank":3,"uri":"/x","links":{"self":{"uri":"/o"}},"attributes":{"objectType":"Offer"}}`, string(out))

	// A changed modelled field wins; an Offer built in code has no extras.
	o.ID = "o2"
	out, err = json.Marshal(o)
	require.NoError(t, err)
	require.Contains(t, string(out), `"id":"o2"`)
	out, err = json.Marshal(Offer{ID: "x"})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"x","minimumQuantity":0,"maximumQuantity":0,"isAddOn":false,"isAvailableForPurchase":false,"isAutoRenewable":false}`, string(out))
}

func TestErrorCodesAreKeptAsSent(t *testing.T) {
	t.Parallel()
	var up Upgrade
	require.NoError(t, json.Unmarshal([]byte(`{"upgradeErrors":[
		{"code":2,"description":"not active","additionalDetails":"since May"},
		{"code":"subscription_add_ons_present","description":"add-ons"},
		{"code":"7","description":"no paths"},
		{"description":"no code"}]}`), &up))
	require.Len(t, up.UpgradeErrors, 4)
	require.Equal(t, []string{"2", "subscription_add_ons_present", "7", "0"},
		[]string{up.UpgradeErrors[0].CodeText(), up.UpgradeErrors[1].CodeText(), up.UpgradeErrors[2].CodeText(), up.UpgradeErrors[3].CodeText()})
	require.Equal(t, UpgradeErrorSubscriptionAddOnsPresent, up.UpgradeErrors[1].Code, "the enum still reads the name")
	require.Equal(t, "since May", up.UpgradeErrors[0].AdditionalDetails)
	b, err := json.Marshal(up.UpgradeErrors[1])
	require.NoError(t, err)
	require.JSONEq(t, `{"code":6,"description":"add-ons"}`, string(b), "sent back as the number")

	var tr Transition
	require.NoError(t, json.Unmarshal([]byte(`{"events":[{"name":"LicenseReassignment","status":"Failed","errors":[
		{"code":12,"description":"license"},{"code":"UserLicenseError","description":"again"}]}]}`), &tr))
	require.Equal(t, "12", tr.Events[0].Errors[0].CodeText())
	require.Equal(t, "UserLicenseError", tr.Events[0].Errors[1].CodeText())

	var res UpgradeResult
	require.NoError(t, json.Unmarshal([]byte(`{"licenseErrors":[{"userObjectId":"u1","name":"Ada Lovelace","email":"ada@example.com",
		"errors":[{"code":60000,"description":"conflict","source":"PartnerApiServiceControllers","data":["x",{"k":1}]}]}]}`), &res))
	f := res.LicenseErrors[0]
	require.Equal(t, "Ada Lovelace", f.Name)
	require.Equal(t, "ada@example.com", f.Email)
	require.Equal(t, ServiceFault{Code: "60000", Description: "conflict", Source: "PartnerApiServiceControllers", Data: []string{"x", `{"k":1}`}}, f.Errors[0])
}
