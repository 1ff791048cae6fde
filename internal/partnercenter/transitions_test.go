package partnercenter

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestTransitionsService_Eligibilities(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	type seen struct{ path, query string }
	reqs := make(chan seen, 4)
	mux.HandleFunc("GET /v1/customers/{c}/subscriptions/{s}/transitionEligibilities", func(w http.ResponseWriter, r *http.Request) {
		reqs <- seen{r.URL.EscapedPath(), r.URL.RawQuery}
		writeJSON(w, http.StatusOK, fixture(t, "transition_eligibilities.json"))
	})

	got, resp, err := client.Transitions.Eligibilities(t.Context(), Call{}, testCustomerID, "sub 1", EligibilityImmediate)
	require.NoError(t, err)
	require.Equal(t, OpTransitionEligibility, resp.Operation)
	require.Equal(t, seen{"/v1/customers/" + testCustomerID + "/subscriptions/sub%201/transitionEligibilities", "eligibilityType=immediate"}, <-reqs)

	require.Len(t, got, 2)
	first := got[0]
	require.Equal(t, "1caf8ec7-62cc-4ab5-b35d-572d2a62974c", first.OperationID)
	require.Equal(t, "CFQ7TTC0KZCR:0001:CFQ7TTC0K71H", first.CatalogItemID)
	require.Equal(t, 1, first.Quantity)
	require.True(t, first.Eligible(TransitionTypeOnly))
	require.True(t, first.Eligible(" Transition_Only "))
	require.False(t, first.Eligible(TransitionTypeWithLicenseTransfer))
	require.Equal(t, []TransitionError{{Code: TransitionErrorConflictingServiceTypes,
		Description: "Subscription cannot be transitioned because there are conflicting services.", WireCode: "3"}}, first.Eligibilities[1].Errors)
	require.Equal(t, TargetSubscriptionEligibilityDetail{
		IsEligible: false, SubscriptionID: "92301b7d-7598-4938-d6f2-d31e080e9da6",
		SubscriptionFriendlyName: "Microsoft 365 Business Premium", SubscriptionTermDuration: "P1M", SubscriptionBillingCycle: "monthly",
		Errors: []TargetSubscriptionError{{Code: TargetSubscriptionErrorTermDurationShorterThanSourceTermDuration,
			Description: "The subscription's term duration is shorter than the source subscription's term duration."}},
	}, first.SubscriptionEligibilities[0])
	require.Empty(t, got[1].SubscriptionEligibilities)

	// No eligibility type: no query.
	_, _, err = client.Transitions.Eligibilities(t.Context(), Call{}, "c", "s", "")
	require.NoError(t, err)
	require.Empty(t, (<-reqs).query)
}

func TestTransitionsService_Create(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t)
	reqs := record(t, mux, "POST /v1/customers/{c}/subscriptions/{s}/transitions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, fixture(t, "transition_create.json"))
	})

	in := Transition{
		FromCatalogItemID: "CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X", FromSubscriptionID: "e487e8dc-421e-4275-cb42-3c1c8daccf70",
		ToCatalogItemID: "CFQ7TTC0LF8R:0001:CFQ7TTC0KCSV", ToSubscriptionID: "0af52192-4a2a-4364-d25b-c8ecab3a5697",
		Quantity: 2, TermDuration: "P1M", BillingCycle: "Monthly", TransitionType: TransitionTypeOnly,
	}
	got, resp, err := client.Transitions.Create(t.Context(), Call{RequestID: "r-tr"}, testCustomerID, "e487e8dc-421e-4275-cb42-3c1c8daccf70", in)
	require.NoError(t, err)
	require.Equal(t, OpTransitionCreate, resp.Operation)
	require.Equal(t, http.StatusOK, resp.Status())

	r := receive(t, reqs)
	require.Equal(t, "/v1/customers/"+testCustomerID+"/subscriptions/e487e8dc-421e-4275-cb42-3c1c8daccf70/transitions", r.Path)
	require.JSONEq(t, string(fixture(t, "transition_request.json")), string(r.Body))

	// The docs sample spells "Events" and "Started " with a trailing space.
	ts := time.Date(2021, 1, 8, 18, 1, 14, 748861800, time.UTC)
	want := in
	want.Events = []TransitionEvent{{Name: "Conversion", Status: "Started ", Timestamp: &ts}}
	require.Empty(t, cmp.Diff(&want, got))
	require.False(t, got.Terminal())
	require.False(t, got.Events[0].Terminal())
}

func TestTransitionsService_Create_invalidArguments(t *testing.T) {
	t.Parallel()
	client, _, _ := setup(t)
	_, resp, err := client.Transitions.Create(t.Context(), Call{}, "c", "s", Transition{TransitionType: TransitionTypeOnly})
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorContains(t, err, "target catalog item id")
	require.Nil(t, resp)
	_, _, err = client.Transitions.Create(t.Context(), Call{}, "c", "s", Transition{ToCatalogItemID: "x"})
	require.ErrorContains(t, err, "transition type")
	_, _, err = client.Transitions.Create(t.Context(), Call{}, "", "s", Transition{ToCatalogItemID: "x", TransitionType: TransitionTypeOnly})
	require.ErrorContains(t, err, "customer id")
	_, _, err = client.Transitions.List(t.Context(), Call{}, "c", "", "")
	require.ErrorContains(t, err, "subscription id")
	_, _, err = client.Transitions.Eligibilities(t.Context(), Call{}, "c", " ", "")
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestTransitionsService_List(t *testing.T) {
	t.Parallel()

	started := time.Date(2021, 1, 8, 18, 1, 14, 748861800, time.UTC)
	completed := time.Date(2021, 1, 8, 18, 37, 41, 591855000, time.UTC)
	offset := time.Date(2021, 1, 8, 18, 37, 41, 0, time.UTC)

	tests := []struct {
		name        string
		fixture     string
		operationID string
		wantQuery   string
		want        []Transition
		terminal    bool
		succeeded   bool
		failed      bool
	}{
		{
			name: "DocsRootTransitionArray", fixture: "transitions_docs.json",
			want: []Transition{{
				OperationID: "1caf8ec7-62cc-4ab5-b35d-572d2a62974c", FromCatalogItemID: "CFQ7TTC0LDPB:0001:CFQ7TTC0LGNT",
				ToCatalogItemID: "CFQ7TTC0LF8S:0001:CFQ7TTC0K9G9", Quantity: 1, TransitionType: TransitionTypeWithLicenseTransfer,
				Events: []TransitionEvent{
					{Name: "Conversion", Status: "Started ", Timestamp: &started},
					{Name: "Conversion", Status: "Completed", Timestamp: &completed},
				},
			}},
			terminal: true, succeeded: true,
		},
		{
			name: "ItemsCollection", fixture: "transitions_items.json",
			operationID: "1caf8ec7-62cc-4ab5-b35d-572d2a62974c", wantQuery: "operationId=1caf8ec7-62cc-4ab5-b35d-572d2a62974c",
			want: []Transition{{
				OperationID: "1caf8ec7-62cc-4ab5-b35d-572d2a62974c", FromCatalogItemID: "CFQ7TTC0LDPB:0001:CFQ7TTC0LGNT",
				ToCatalogItemID: "CFQ7TTC0LF8S:0001:CFQ7TTC0K9G9", Quantity: 1, TransitionType: TransitionTypeWithLicenseTransfer,
				Events: []TransitionEvent{
					{Name: "Conversion", Status: "InProgress", Timestamp: &started},
					{Name: "LicenseReassignment", Status: "Failed", Timestamp: &offset,
						Errors: []TransitionError{{Code: TransitionErrorUserLicenseError, Description: "License transfer failed.", WireCode: "UserLicenseError"}}},
				},
			}},
			// The license reassignment failed while the conversion still
			// runs: whether the subscription converts is not known yet.
			terminal: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, mux, _ := setup(t)
			queries := make(chan string, 1)
			mux.HandleFunc("GET /v1/customers/{c}/subscriptions/{s}/transitions", func(w http.ResponseWriter, r *http.Request) {
				queries <- r.URL.RawQuery
				writeJSON(w, http.StatusOK, fixture(t, tt.fixture))
			})
			got, resp, err := client.Transitions.List(t.Context(), Call{}, "c", "s", tt.operationID)
			require.NoError(t, err)
			require.Equal(t, OpTransitionList, resp.Operation)
			require.Equal(t, tt.wantQuery, <-queries)
			require.Empty(t, cmp.Diff(tt.want, got))
			require.Equal(t, tt.terminal, got[0].Terminal())
			require.Equal(t, tt.succeeded, got[0].Succeeded())
			require.Equal(t, tt.failed, got[0].Failed())
		})
	}
}

func TestTransition_state(t *testing.T) {
	t.Parallel()
	ev := func(name, status string) TransitionEvent { return TransitionEvent{Name: name, Status: status} }
	tests := []struct {
		name                                                string
		events                                              []TransitionEvent
		terminal, succeeded, failed, partial, unknown, conv bool
	}{
		{name: "NoEvents"},
		{name: "Started", events: []TransitionEvent{ev("Conversion", " started ")}},
		{name: "InProgress", events: []TransitionEvent{ev("Conversion", "INPROGRESS")}},
		{name: "Completed", events: []TransitionEvent{ev("Conversion", "Started"), ev("Conversion", " completed")}, terminal: true, succeeded: true, conv: true},
		{name: "SecondStepRunning", events: []TransitionEvent{ev("Conversion", "Completed"), ev("LicenseReassignment", "Started")}, conv: true},
		{name: "ConvertedThenFailed", events: []TransitionEvent{ev("Conversion", "Completed"), ev("SeatReassignment", "failed")}, terminal: true, partial: true, conv: true},
		{name: "LaterEventFailedConversionRunning", events: []TransitionEvent{ev("Conversion", "Started"), ev("LicenseReassignment", "Failed")}},
		{name: "ConversionFailed", events: []TransitionEvent{ev("Conversion", "Started"), ev("LicenseReassignment", "Started"), ev("Conversion", "Failed")}, terminal: true, failed: true},
		{name: "UnknownStatus", events: []TransitionEvent{ev("Conversion", "Started"), ev("Conversion", "Suspended")}, unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := &Transition{Events: tt.events}
			require.Equal(t, tt.terminal, tr.Terminal(), "Terminal")
			require.Equal(t, tt.succeeded, tr.Succeeded(), "Succeeded")
			require.Equal(t, tt.failed, tr.Failed(), "Failed")
			require.Equal(t, tt.partial, tr.Partial(), "Partial")
			require.Equal(t, tt.unknown, tr.Unknown(), "Unknown")
			require.Equal(t, tt.conv, tr.Converted(), "Converted")
		})
	}
	var nilTr *Transition
	require.False(t, nilTr.Terminal())
}

func TestCollection_shapes(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`[{"toCatalogItemId":"a"}]`, `{"items":[{"toCatalogItemId":"a"}]}`, `{"Items":[{"toCatalogItemId":"a"}]}`, `{"transition":[{"ToCatalogItemId":"a"}]}`} {
		c := collection[Transition]{altKeys: []string{"transition"}}
		require.NoError(t, decodeBody([]byte(body), &c), body)
		require.Len(t, c.list(), 1, body)
		require.Equal(t, "a", c.list()[0].ToCatalogItemID)
	}
	var c collection[Transition]
	require.NoError(t, decodeBody([]byte(`{"totalCount":0}`), &c))
	require.Equal(t, []Transition{}, c.list())
	require.ErrorIs(t, decodeBody([]byte(`{"items":{}}`), &c), ErrDecode)
	require.ErrorIs(t, decodeBody([]byte(`"x"`), &c), ErrDecode)
}
