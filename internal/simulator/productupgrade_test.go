package simulator_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

const upgradedDatePattern = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$`

func TestEligibility(t *testing.T) {
	t.Parallel()
	ineligible, failing, succeeding := uuid.NewString(), uuid.NewString(), uuid.NewString()
	opts := simulator.DefaultOptions()
	opts.IneligibleShare = 1 // everyone not listed is ineligible
	opts.Ineligible = []string{strings.ToUpper(ineligible)}
	opts.Failing = []string{failing}
	opts.Succeeding = []string{succeeding}
	b := setup(t, opts)
	tok := b.userToken(t)

	e := b.eligibility(t, tok, succeeding)
	require.True(t, e.IsEligible)
	require.Empty(t, e.Reason)
	require.Empty(t, e.UpgradeID)
	require.Equal(t, succeeding, e.CustomerID)
	require.Equal(t, "Azure", e.ProductFamily)
	require.Equal(t, "ProductUpgradesEligibility", e.Attributes.ObjectType)

	require.True(t, b.eligibility(t, tok, failing).IsEligible, "a failing customer is eligible; its upgrade fails later")

	for _, id := range []string{ineligible, uuid.NewString()} {
		e := b.eligibility(t, tok, id)
		require.False(t, e.IsEligible)
		require.NotEmpty(t, e.Reason)
		require.Equal(t, b.sim.Predict(id).Reason, e.Reason)
	}
}

func TestCreateAndStatusCompleted(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	opts.MaxLineItems = 4
	b := setup(t, opts)
	tok := b.userToken(t)
	predicted := b.sim.Predict(customer)
	created := b.clock.Now()

	res := b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer))
	require.Equal(t, http.StatusAccepted, res.status)
	require.Empty(t, res.body)
	require.Equal(t, "0", res.header.Get("Content-Length"))
	loc := res.header.Get("Location")
	require.Regexp(t, `^productUpgrades/[0-9a-f-]{36}$`, loc, "Location is relative: no leading slash, no /v1")
	id := strings.TrimPrefix(loc, "productUpgrades/")

	// A second create while the first runs is refused with its id.
	f := b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer)).requireFault(t, http.StatusConflict, "900109")
	require.Contains(t, f.Description, id)

	e := b.eligibility(t, tok, customer)
	require.False(t, e.IsEligible)
	require.Equal(t, id, e.UpgradeID)
	require.Contains(t, e.Reason, "in progress")

	st := b.status(t, tok, id, customer)
	require.Equal(t, id, st.ID)
	require.Equal(t, "Azure", st.ProductFamily)
	require.Equal(t, "InProgress", st.Status)
	require.Equal(t, "ProductUpgradesStatus", st.Attributes.ObjectType)
	require.Nil(t, st.ErrorDetails)
	require.Len(t, st.LineItems, len(predicted.LineItems))
	for i, li := range st.LineItems {
		require.Equal(t, "InProgress", li.Status)
		require.Nil(t, li.UpgradedDate)
		require.Equal(t, predicted.LineItems[i].SourceID, li.SourceProduct.ID)
		require.Equal(t, "AzureSubscription", li.SourceProduct.Name)
		require.Equal(t, "Microsoft Azure plan", li.TargetProduct.Name)
	}
	require.Equal(t, []simulator.UpgradeRecord{{
		ID: id, CustomerID: customer, ProductFamily: "Azure", CreatedAt: created, Status: "InProgress", CreateRequests: 1,
	}}, b.sim.Upgrades())

	b.clock.Advance(predicted.Duration - time.Millisecond)
	require.Equal(t, "InProgress", b.status(t, tok, id, customer).Status)

	b.clock.Advance(time.Millisecond)
	st = b.status(t, tok, id, customer)
	require.Equal(t, "Completed", st.Status)
	require.Nil(t, st.ErrorDetails)
	for i, li := range st.LineItems {
		require.Equal(t, "Completed", li.Status)
		require.NotNil(t, li.UpgradedDate)
		require.Regexp(t, upgradedDatePattern, *li.UpgradedDate)
		at, err := time.Parse(time.RFC3339Nano, *li.UpgradedDate)
		require.NoError(t, err)
		require.Equal(t, created.Add(predicted.Duration).Truncate(100*time.Nanosecond), at)
		require.Nil(t, li.ErrorDetails)
		require.Equal(t, predicted.LineItems[i].TargetID, li.TargetProduct.ID)
	}
	require.Equal(t, "Completed", b.sim.Upgrades()[0].Status)

	e = b.eligibility(t, tok, customer)
	require.False(t, e.IsEligible)
	require.Equal(t, id, e.UpgradeID)

	f = b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer)).requireFault(t, http.StatusBadRequest, "900110")
	require.Contains(t, f.Description, id)
	require.Equal(t, 1, b.sim.CreatedCount(customer))
}

func TestStatusFailed(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Failing = []string{customer}
	b := setup(t, opts)
	tok := b.userToken(t)
	predicted := b.sim.Predict(customer)
	require.True(t, predicted.Fails)

	id := b.create(t, tok, customer)
	b.clock.Advance(opts.MaxDuration)

	st := b.status(t, tok, id, customer)
	require.Equal(t, "Failed", st.Status)
	require.NotNil(t, st.ErrorDetails)
	require.Regexp(t, `^\d+$`, st.ErrorDetails.Code)
	require.NotEmpty(t, st.ErrorDetails.Message)
	require.Equal(t, st.ErrorDetails.Message, st.ErrorDetails.Description, "both names carry the text")
	require.Equal(t, predicted.ErrorCode, st.ErrorDetails.Code)

	failed := 0
	for i, li := range st.LineItems {
		require.Equal(t, predicted.LineItems[i].Status, li.Status)
		switch li.Status {
		case "Failed":
			failed++
			require.NotNil(t, li.ErrorDetails)
			require.Equal(t, predicted.LineItems[i].ErrorCode, li.ErrorDetails.Code)
			require.NotEmpty(t, li.ErrorDetails.Message)
			require.NotEmpty(t, li.ErrorDetails.Description)
			require.Nil(t, li.UpgradedDate)
		case "Completed":
			require.Regexp(t, upgradedDatePattern, *li.UpgradedDate)
		default:
			t.Fatalf("unexpected line item status %q", li.Status)
		}
	}
	require.Positive(t, failed)

	e := b.eligibility(t, tok, customer)
	require.False(t, e.IsEligible)
	require.Equal(t, id, e.UpgradeID)
	require.Contains(t, e.Reason, "failed")

	// A failed upgrade may be created again; it is a new upgrade.
	again := b.create(t, tok, customer)
	require.NotEqual(t, id, again)
	require.Equal(t, 2, b.sim.CreatedCount(customer))
	ups := b.sim.Upgrades()
	require.Len(t, ups, 2)
	require.Equal(t, "Failed", ups[0].Status)
	require.Equal(t, "InProgress", ups[1].Status)
	require.Equal(t, 2, ups[0].CreateRequests)
}

func TestCreateIneligible(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.IneligibleShare = 1
	b := setup(t, opts)
	tok := b.userToken(t)

	seen := map[string]bool{}
	for range 40 {
		customer := uuid.NewString()
		want := b.sim.Predict(customer)
		require.False(t, want.Eligible)
		require.Contains(t, []int{900105, 900108, 900119, 900130}, want.CreateErrorCode)
		b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer)).requireFault(t, http.StatusForbidden, strconv.Itoa(want.CreateErrorCode))
		seen[want.Reason] = true
		require.Zero(t, b.sim.CreatedCount(customer))
	}
	require.Greater(t, len(seen), 1, "reasons vary between customers")
	require.Empty(t, b.sim.Upgrades())
}

func TestStatusErrors(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	mine, other := uuid.NewString(), uuid.NewString()
	opts.Succeeding = []string{mine, other}
	b := setup(t, opts)
	tok := b.userToken(t)
	id := b.create(t, tok, mine)

	b.post(t, "/v1/productUpgrades/"+uuid.NewString()+"/status", tok, upgradeBody(mine)).requireFault(t, http.StatusNotFound, "900106")
	b.post(t, "/v1/productUpgrades/not-a-guid/status", tok, upgradeBody(mine)).requireFault(t, http.StatusNotFound, "900106")

	f := b.post(t, "/v1/productUpgrades/"+id+"/status", tok, upgradeBody(other)).requireFault(t, http.StatusBadRequest, "900111")
	require.Contains(t, f.Description, other)

	otherID := b.create(t, tok, other)
	f = b.post(t, "/v1/productUpgrades/"+id+"/status", tok, upgradeBody(other)).requireFault(t, http.StatusBadRequest, "900111")
	require.Contains(t, f.Description, otherID)
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, simulator.DefaultOptions())
	tok := b.userToken(t)
	customer := "4c721420-72ad-4708-a0a7-371a2f7b0969"

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not json", `{"customerId":`, http.StatusBadRequest, "800002"},
		{"empty body", ``, http.StatusBadRequest, "800002"},
		{"array", `[]`, http.StatusBadRequest, "800002"},
		{"trailing data", `{"customerId":"` + customer + `","productFamily":"Azure"} {}`, http.StatusBadRequest, "800002"},
		{"missing customer", `{"productFamily":"Azure"}`, http.StatusBadRequest, "900118"},
		{"customer not a guid", `{"customerId":"contoso","productFamily":"Azure"}`, http.StatusBadRequest, "900118"},
		{"customer with braces", `{"customerId":"{` + customer + `}","productFamily":"Azure"}`, http.StatusBadRequest, "900118"},
		{"missing family", `{"customerId":"` + customer + `"}`, http.StatusBadRequest, "800002"},
		{"other family", `{"customerId":"` + customer + `","productFamily":"Office"}`, http.StatusBadRequest, "900107"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/v1/productUpgrades/eligibility", "/v1/productUpgrades", "/v1/productUpgrades/" + uuid.NewString() + "/status"} {
				b.post(t, path, tok, tt.body).requireFault(t, tt.status, tt.code)
			}
		})
	}
	require.Empty(t, b.sim.Upgrades())

	// The family is matched case-insensitively.
	res := b.post(t, "/v1/productUpgrades/eligibility", tok, `{"customerId":"`+customer+`","productFamily":" azure "}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
}

func TestConcurrentCreatesCreateOnce(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	b := setup(t, opts)
	tok := b.userToken(t)

	const n = 30
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i] = b.post(t, "/v1/productUpgrades", tok, upgradeBody(customer), "MS-RequestId", uuid.NewString()).status
		})
	}
	wg.Wait()

	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	require.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusConflict: n - 1}, count)
	require.Equal(t, 1, b.sim.CreatedCount(customer))
	require.Equal(t, n, b.sim.Requests()[simulator.OpProductUpgradeCreate])
}
