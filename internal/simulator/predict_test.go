package simulator_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestPredictIsPure(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Seed = 42
	a, err := simulator.New(opts)
	require.NoError(t, err)
	b, err := simulator.New(opts)
	require.NoError(t, err)

	opts.Seed = 43
	c, err := simulator.New(opts)
	require.NoError(t, err)

	differ := 0
	for i := range 200 {
		id := deterministicCustomer(i)
		require.Equal(t, a.Predict(id), b.Predict(id))
		require.Equal(t, a.Predict(id), a.Predict(strings.ToUpper(id)))
		if a.Predict(id).Duration != c.Predict(id).Duration {
			differ++
		}
	}
	require.Greater(t, differ, 150, "another seed is another world")
}

func TestPredictShapes(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.MinDuration, opts.MaxDuration = 2*time.Second, 4*time.Second
	opts.MaxLineItems = 5
	opts.FailShare = 0.5
	sim, err := simulator.New(opts)
	require.NoError(t, err)

	counts := map[int]int{}
	for i := range 2000 {
		o := sim.Predict(deterministicCustomer(i))
		if !o.Eligible {
			require.NotEmpty(t, o.Reason)
			require.NotZero(t, o.CreateErrorCode)
			require.False(t, o.Fails)
			require.Empty(t, o.LineItems)
			continue
		}
		require.Empty(t, o.Reason)
		require.Zero(t, o.CreateErrorCode)
		require.GreaterOrEqual(t, o.Duration, opts.MinDuration)
		require.LessOrEqual(t, o.Duration, opts.MaxDuration)
		counts[len(o.LineItems)]++
		failed := 0
		for _, li := range o.LineItems {
			require.Equal(t, "AzureSubscription", li.SourceName)
			require.Equal(t, "Microsoft Azure plan", li.TargetName)
			_, err := uuid.Parse(li.SourceID)
			require.NoError(t, err)
			_, err = uuid.Parse(li.TargetID)
			require.NoError(t, err)
			if li.Status == "Failed" {
				failed++
				require.NotEmpty(t, li.ErrorCode)
				require.NotEmpty(t, li.ErrorMessage)
			} else {
				require.Equal(t, "Completed", li.Status)
				require.Empty(t, li.ErrorCode)
			}
		}
		if o.Fails {
			require.Positive(t, failed)
			require.Regexp(t, `^\d+$`, o.ErrorCode)
			require.NotEmpty(t, o.ErrorMessage)
		} else {
			require.Zero(t, failed)
			require.Empty(t, o.ErrorCode)
		}
	}
	for n := 1; n <= opts.MaxLineItems; n++ {
		require.Positive(t, counts[n], "line item count %d occurs", n)
	}
	require.Len(t, counts, opts.MaxLineItems)
}

func TestPredictShares(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ineligible, fail float64 }{{0.10, 0.10}, {0.30, 0.05}, {0, 0}, {1, 0}, {0, 1}} {
		opts := simulator.DefaultOptions()
		opts.IneligibleShare, opts.FailShare = tt.ineligible, tt.fail
		sim, err := simulator.New(opts)
		require.NoError(t, err)

		const n = 20000
		ineligible, eligible, fails := 0, 0, 0
		for i := range n {
			o := sim.Predict(deterministicCustomer(i))
			if !o.Eligible {
				ineligible++
				continue
			}
			eligible++
			if o.Fails {
				fails++
			}
		}
		require.InDelta(t, tt.ineligible, float64(ineligible)/n, 0.015, "ineligible share")
		if eligible > 0 {
			require.InDelta(t, tt.fail, float64(fails)/float64(eligible), 0.015, "fail share")
		}
	}
}

func TestExplicitListsWin(t *testing.T) {
	t.Parallel()
	ineligible, failing, succeeding := uuid.NewString(), uuid.NewString(), uuid.NewString()
	opts := simulator.DefaultOptions()
	opts.IneligibleShare, opts.FailShare = 0, 1
	opts.Ineligible = []string{ineligible}
	opts.Failing = []string{strings.ToUpper(failing)}
	opts.Succeeding = []string{succeeding}
	sim, err := simulator.New(opts)
	require.NoError(t, err)

	require.False(t, sim.Predict(ineligible).Eligible)
	require.True(t, sim.Predict(failing).Eligible)
	require.True(t, sim.Predict(failing).Fails)
	require.True(t, sim.Predict(succeeding).Eligible)
	require.False(t, sim.Predict(succeeding).Fails)
	require.True(t, sim.Predict(uuid.NewString()).Fails, "FailShare 1 applies to everyone else")
}

// TestPredictMatchesEndpoints drives 200 random customers through the API
// and checks every answer against Predict.
func TestPredictMatchesEndpoints(t *testing.T) {
	t.Parallel()
	opts := simulator.DefaultOptions()
	opts.Seed = time.Now().UnixNano()
	opts.IneligibleShare, opts.FailShare = 0.2, 0.3
	b := setup(t, opts)
	tok := b.userToken(t)
	t.Logf("seed %d", opts.Seed)

	customers := make([]string, 200)
	ids := map[string]string{}
	for i := range customers {
		customers[i] = uuid.NewString()
		c := customers[i]
		want := b.sim.Predict(c)

		e := b.eligibility(t, tok, c)
		require.Equal(t, want.Eligible, e.IsEligible, c)
		require.Equal(t, want.Reason, e.Reason, c)

		res := b.post(t, "/v1/productUpgrades", tok, upgradeBody(c))
		if !want.Eligible {
			res.requireFault(t, http.StatusForbidden, strconv.Itoa(want.CreateErrorCode))
			continue
		}
		require.Equal(t, http.StatusAccepted, res.status, "body: %s", res.body)
		ids[c] = strings.TrimPrefix(res.header.Get("Location"), "productUpgrades/")
	}

	b.clock.Advance(opts.MaxDuration)
	ineligible, failed := 0, 0
	for _, c := range customers {
		want := b.sim.Predict(c)
		id, ok := ids[c]
		if !ok {
			ineligible++
			continue
		}
		st := b.status(t, tok, id, c)
		if want.Fails {
			failed++
			require.Equal(t, "Failed", st.Status, c)
			require.Equal(t, want.ErrorCode, st.ErrorDetails.Code)
			require.Equal(t, want.ErrorMessage, st.ErrorDetails.Message)
		} else {
			require.Equal(t, "Completed", st.Status, c)
			require.Nil(t, st.ErrorDetails)
		}
		require.Len(t, st.LineItems, len(want.LineItems))
		for i, li := range st.LineItems {
			p := want.LineItems[i]
			require.Equal(t, p.Status, li.Status)
			require.Equal(t, p.SourceID, li.SourceProduct.ID)
			require.Equal(t, p.SourceName, li.SourceProduct.Name)
			require.Equal(t, p.TargetID, li.TargetProduct.ID)
			require.Equal(t, p.TargetName, li.TargetProduct.Name)
			if p.Status == "Failed" {
				require.Equal(t, p.ErrorCode, li.ErrorDetails.Code)
				require.Equal(t, p.ErrorMessage, li.ErrorDetails.Description)
			}
		}
		require.Equal(t, 1, b.sim.CreatedCount(c))
	}
	// 200 draws: generous bounds (about 4 standard deviations).
	require.InDelta(t, 40, ineligible, 23)
	require.InDelta(t, 0.3*float64(200-ineligible), failed, 26)
	require.Len(t, b.sim.Upgrades(), len(ids))
}

func deterministicCustomer(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(strconv.Itoa(i))).String()
}
