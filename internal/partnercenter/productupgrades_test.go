package partnercenter

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

const (
	testCustomerID = "4c721420-72ad-4708-a0a7-371a2f7b0969"
	testUpgradeID  = "42d075a4-bfe7-43e7-af6d-7c68a57edcb4"
)

// requireStandardHeaders checks the headers every request carries.
func requireStandardHeaders(t *testing.T, got recorded, requestID, correlationID string) {
	t.Helper()
	require.Equal(t, "application/json", got.Header.Get("Accept"))
	require.Equal(t, "application/json", got.Header.Get("Content-Type"))
	require.Equal(t, requestID, got.Header.Get("MS-RequestId"))
	require.Equal(t, correlationID, got.Header.Get("MS-CorrelationId"))
	require.Equal(t, "en-US", got.Header.Get("X-Locale"))
	require.Equal(t, testUserAgent, got.Header.Get("User-Agent"))
}

// requireServerIDs checks the response headers written by writeJSON.
func requireServerIDs(t *testing.T, resp *Response) {
	t.Helper()
	require.Equal(t, "cb82f7d6-f0d9-44d4-82f9-f6eee6e68390", resp.ServerRequestID)
	require.Equal(t, "772871a9-399b-4f3b-b8c7-38f550e4f22a", resp.ServerCorrelationID)
	require.Equal(t, "iqOqN0FnaE2y0HcD.0", resp.CV)
}

func TestProductUpgradesService_Eligibility(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t, WithApplication("Upgrade Orchestrator"))
	reqs := record(t, mux, "/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "product_upgrade_eligibility.json"))
	})

	call := Call{RequestID: "c245d5f2-1de3-4ae0-9e42-95e38e3cb8ff", CorrelationID: "e3f26e6a-044f-4371-ad52-0d91ce4200be"}
	got, resp, err := client.ProductUpgrades.Eligibility(t.Context(), call,
		ProductUpgradesRequest{CustomerID: testCustomerID, ProductFamily: ProductFamilyAzure})
	require.NoError(t, err)

	r := receive(t, reqs)
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/v1/productUpgrades/eligibility", r.Path)
	requireStandardHeaders(t, r, call.RequestID, call.CorrelationID)
	require.Equal(t, "Upgrade Orchestrator", r.Header.Get("MS-PartnerCenter-Application"))
	require.JSONEq(t, `{"customerId":"`+testCustomerID+`","productFamily":"Azure"}`, string(r.Body))

	want := &ProductUpgradesEligibility{
		CustomerID:    "c1958bc7-3284-4952-a257-de594ee64743",
		ProductFamily: "azure",
		IsEligible:    true,
	}
	require.Empty(t, cmp.Diff(want, got))

	require.Equal(t, http.StatusOK, resp.Status())
	require.Equal(t, OpProductUpgradeEligibility, resp.Operation)
	require.Equal(t, call.RequestID, resp.RequestID)
	require.Equal(t, call.CorrelationID, resp.CorrelationID)
	requireServerIDs(t, resp)
}

func TestProductUpgradesService_Eligibility_existingUpgrade(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "/v1/productUpgrades/eligibility", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{
			"customerId": "`+testCustomerID+`", "productFamily": "Azure", "isEligible": false,
			"upgradeId": "`+testUpgradeID+`", "reason": "An upgrade already exists.",
			"attributes": {"objectType": "ProductUpgradesEligibility"}, "futureField": [1, 2]}`))
	})

	// An empty product family defaults to Azure; surrounding spaces go.
	got, _, err := client.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: " " + testCustomerID + " "})
	require.NoError(t, err)
	require.JSONEq(t, `{"customerId":"`+testCustomerID+`","productFamily":"Azure"}`, string(receive(t, reqs).Body))
	want := &ProductUpgradesEligibility{
		CustomerID:    testCustomerID,
		ProductFamily: "Azure",
		UpgradeID:     testUpgradeID,
		Reason:        "An upgrade already exists.",
	}
	require.Empty(t, cmp.Diff(want, got))
}

func TestProductUpgradesService_invalidArguments(t *testing.T) {
	t.Parallel()
	client, _, _ := setup(t) // the root handler fails the test on any request

	_, resp, err := client.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "  "})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Nil(t, resp)
	require.True(t, IsTerminal(err))
	require.Equal(t, "invalid_argument", ErrorCode(err))
	require.EqualError(t, err, "partnercenter: product_upgrade_eligibility: invalid argument: empty customer id")

	_, resp, err = client.ProductUpgrades.Create(t.Context(), Call{}, ProductUpgradesRequest{})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Nil(t, resp)

	_, resp, err = client.ProductUpgrades.Status(t.Context(), Call{}, " ", ProductUpgradesRequest{CustomerID: testCustomerID})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Nil(t, resp)
	require.Equal(t, 0, resp.Status())
}

func TestProductUpgradesService_Create(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		location string // "" sends no Location header
		wantID   string
	}{
		{name: "DocsRelative", location: "productUpgrades/" + testUpgradeID, wantID: testUpgradeID},
		{name: "Absolute", location: "https://api.partnercenter.microsoft.com/v1/productUpgrades/" + testUpgradeID, wantID: testUpgradeID},
		{name: "TrailingSlash", location: "productUpgrades/" + testUpgradeID + "/", wantID: testUpgradeID},
		{name: "LeadingSlash", location: "/v1/productupgrades/" + testUpgradeID, wantID: testUpgradeID},
		{name: "BareID", location: testUpgradeID, wantID: testUpgradeID},
		{name: "WithQuery", location: "productUpgrades/" + testUpgradeID + "?x=1", wantID: testUpgradeID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, mux, _ := setup(t)
			reqs := record(t, mux, "/v1/productUpgrades", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", tt.location)
				writeJSON(w, http.StatusAccepted, nil)
			})

			call := Call{RequestID: "req-create", CorrelationID: "corr-create"}
			id, resp, err := client.ProductUpgrades.Create(t.Context(), call,
				ProductUpgradesRequest{CustomerID: testCustomerID, ProductFamily: "Azure"})
			require.NoError(t, err)
			require.Equal(t, tt.wantID, id)

			r := receive(t, reqs)
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, "/v1/productUpgrades", r.Path)
			requireStandardHeaders(t, r, call.RequestID, call.CorrelationID)
			require.Empty(t, r.Header.Get("MS-PartnerCenter-Application"))
			require.JSONEq(t, `{"customerId":"`+testCustomerID+`","productFamily":"Azure"}`, string(r.Body))

			require.Equal(t, http.StatusAccepted, resp.Status())
			require.Equal(t, OpProductUpgradeCreate, resp.Operation)
			requireServerIDs(t, resp)
		})
	}
}

func TestProductUpgradesService_Create_noLocation(t *testing.T) {
	t.Parallel()
	for name, location := range map[string]string{"Missing": "", "CollectionOnly": "productUpgrades/", "Blank": "  "} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client, mux, _ := setup(t)
			mux.HandleFunc("/v1/productUpgrades", func(w http.ResponseWriter, _ *http.Request) {
				if location != "" {
					w.Header().Set("Location", location)
				}
				w.WriteHeader(http.StatusAccepted)
			})

			id, resp, err := client.ProductUpgrades.Create(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: testCustomerID})
			require.ErrorIs(t, err, ErrNoLocation)
			require.Empty(t, id)
			require.Equal(t, http.StatusAccepted, resp.Status())
			require.NotEmpty(t, resp.RequestID)
			require.Equal(t, "no_location", ErrorCode(err))
			require.EqualError(t, err, "partnercenter: product_upgrade_create: accepted response has no usable Location header")
			require.False(t, IsRetryable(err))
			require.False(t, IsTerminal(err))
		})
	}
}

func TestProductUpgradesService_Create_conflict(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	mux.HandleFunc("/v1/productUpgrades", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusConflict, []byte(`{"code":900109,"description":"An upgrade `+testUpgradeID+` for this customer is already in progress.","source":"PartnerFD"}`))
	})

	id, resp, err := client.ProductUpgrades.Create(t.Context(), Call{RequestID: "r1"}, ProductUpgradesRequest{CustomerID: testCustomerID})
	require.Empty(t, id)
	require.True(t, IsConflict(err))
	require.False(t, IsTerminal(err))
	require.False(t, IsRetryable(err))
	require.Equal(t, "900109", ErrorCode(err))
	require.Equal(t, http.StatusConflict, resp.Status())

	var pcErr *Error
	require.ErrorAs(t, err, &pcErr)
	require.Equal(t, OpProductUpgradeCreate, pcErr.Op)
	require.Equal(t, "PartnerFD", pcErr.Source)
	require.Equal(t, "cb82f7d6-f0d9-44d4-82f9-f6eee6e68390", pcErr.RequestID)
	require.Equal(t,
		"partnercenter: product_upgrade_create: HTTP 409 Conflict, code 900109: An upgrade "+testUpgradeID+
			" for this customer is already in progress. (request id cb82f7d6-f0d9-44d4-82f9-f6eee6e68390)",
		err.Error())
}

func TestProductUpgradesService_Status(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "/v1/productUpgrades/{id}/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "product_upgrade_status_completed.json"))
	})

	call := Call{RequestID: "req-status", CorrelationID: "corr-status"}
	got, resp, err := client.ProductUpgrades.Status(t.Context(), call, testUpgradeID,
		ProductUpgradesRequest{CustomerID: testCustomerID, ProductFamily: "Azure"})
	require.NoError(t, err)

	r := receive(t, reqs)
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/v1/productUpgrades/"+testUpgradeID+"/status", r.Path)
	requireStandardHeaders(t, r, call.RequestID, call.CorrelationID)
	require.JSONEq(t, `{"customerId":"`+testCustomerID+`","productFamily":"Azure"}`, string(r.Body))

	upgraded := time.Date(2019, 8, 29, 23, 47, 28, 852455500, time.UTC)
	want := &ProductUpgradesStatus{
		ID:            testUpgradeID,
		ProductFamily: "Azure",
		Status:        "Completed",
		LineItems: []UpgradesLineItem{{
			SourceProduct: UpgradeProduct{ID: "b1beb621-3cad-4d7a-b360-62db33ce028e", Name: "AzureSubscription"},
			TargetProduct: UpgradeProduct{ID: "d231908e-31c1-de0e-027b-bc5ce11f09d9", Name: "Microsoft Azure plan"},
			UpgradedDate:  &upgraded,
			Status:        "Completed",
		}},
	}
	require.Empty(t, cmp.Diff(want, got))
	require.True(t, got.Terminal())
	require.True(t, got.Succeeded())
	require.False(t, got.Failed())
	require.True(t, got.LineItems[0].Succeeded())

	require.Equal(t, OpProductUpgradeStatus, resp.Operation)
	requireServerIDs(t, resp)
}

func TestProductUpgradesService_Status_escapesID(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "/v1/productUpgrades/{id}/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"id":"x","status":"InProgress"}`))
	})
	_, _, err := client.ProductUpgrades.Status(t.Context(), Call{}, "a/b c", ProductUpgradesRequest{CustomerID: "c"})
	require.NoError(t, err)
	require.Equal(t, "/v1/productUpgrades/a%2Fb%20c/status", receive(t, reqs).Path)
}

// Failed upgrades are not documented: no sample shows one. These bodies use
// the documented field names with the assumed status "Failed", one with the
// service model's "description" and a numeric code, one with the documented
// "message" and a string code.
func TestProductUpgradesService_Status_failed(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		body     string
		wantTop  *ErrorDetails
		wantItem *ErrorDetails
		wantText string
	}{
		{
			name: "DescriptionNumericCode",
			body: `{"id":"` + testUpgradeID + `","status":"Failed","productFamily":"Azure",
				"errorDetails":{"code":900114,"description":"The upgrade failed."},
				"lineItems":[{"sourceProduct":{"id":"s1","name":"AzureSubscription"},
					"targetProduct":{"id":"t1","name":"Microsoft Azure plan"},
					"upgradedDate":null,"status":"Failed",
					"errorDetails":{"code":900105,"description":"Suspended subscriptions cannot be upgraded.","attributes":{"objectType":"ErrorDetails"}}}],
				"attributes":{"objectType":"ProductUpgradesStatus"}}`,
			wantTop:  &ErrorDetails{Code: "900114", Description: "The upgrade failed."},
			wantItem: &ErrorDetails{Code: "900105", Description: "Suspended subscriptions cannot be upgraded."},
			wantText: "The upgrade failed.",
		},
		{
			name: "MessageStringCode",
			body: `{"id":"` + testUpgradeID + `","status":" failed ","productFamily":"Azure",
				"errorDetails":{"code":"900120","message":"Can't process the Azure upgrade."},
				"lineItems":[{"sourceProduct":{"id":"s1","name":"AzureSubscription"},
					"targetProduct":{"id":"t1","name":"Microsoft Azure plan"},
					"upgradedDate":"","status":"UpgradeFailed",
					"errorDetails":{"code":"900120","message":"Can't process the Azure upgrade."}}]}`,
			wantTop:  &ErrorDetails{Code: "900120", Message: "Can't process the Azure upgrade."},
			wantItem: &ErrorDetails{Code: "900120", Message: "Can't process the Azure upgrade."},
			wantText: "Can't process the Azure upgrade.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, mux, _ := setup(t)
			mux.HandleFunc("/v1/productUpgrades/{id}/status", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, http.StatusOK, []byte(tt.body))
			})

			got, _, err := client.ProductUpgrades.Status(t.Context(), Call{}, testUpgradeID, ProductUpgradesRequest{CustomerID: testCustomerID})
			require.NoError(t, err)
			require.True(t, got.Terminal())
			require.False(t, got.Succeeded())
			require.True(t, got.Failed())
			require.Empty(t, cmp.Diff(tt.wantTop, got.ErrorDetails))
			require.Equal(t, tt.wantText, got.ErrorDetails.Text())

			require.Len(t, got.LineItems, 1)
			item := got.LineItems[0]
			require.Nil(t, item.UpgradedDate)
			require.True(t, item.Failed())
			require.Empty(t, cmp.Diff(tt.wantItem, item.ErrorDetails))
		})
	}
}

func TestUpgradeIDFromLocation(t *testing.T) {
	t.Parallel()
	for loc, want := range map[string]string{
		"productUpgrades/" + testUpgradeID:                               testUpgradeID,
		"productUpgrades/" + testUpgradeID + "/":                         testUpgradeID,
		"productUpgrades/" + testUpgradeID + "//":                        testUpgradeID,
		"https://api.partnercenter.microsoft.com/v1/productUpgrades/abc": "abc",
		"  productUpgrades/abc  ":                                        "abc",
		"productUpgrades/a%20b":                                          "a b",
		"":                                                               "",
		"/":                                                              "",
		"productUpgrades":                                                "",
		"https://api.partnercenter.microsoft.com/":                       "",
	} {
		got, ok := upgradeIDFromLocation(loc)
		require.Equal(t, want, got, loc)
		require.Equal(t, want != "", ok, loc)
	}
}
