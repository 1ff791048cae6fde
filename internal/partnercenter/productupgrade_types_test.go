package partnercenter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClassifyUpgradeStatus(t *testing.T) {
	t.Parallel()

	// Only "Completed" is documented; the other values are assumptions about
	// what the service may send.
	for status, want := range map[string]upgradeState{
		"Completed":           upgradeSucceeded,
		" completed ":         upgradeSucceeded,
		"COMPLETED":           upgradeSucceeded,
		"Failed":              upgradeFailed,
		"failed":              upgradeFailed,
		"UpgradeFailed":       upgradeFailed,
		"Failure":             upgradeFailed,
		"Cancelled":           upgradeFailed,
		"Canceled":            upgradeFailed,
		"":                    upgradeRunning,
		"InProgress":          upgradeRunning,
		"Pending":             upgradeRunning,
		"Started ":            upgradeRunning,
		"in_progress":         upgradeRunning,
		"Processing":          upgradeRunning,
		"CompletedWithErrors": upgradeUnknown,
		"Suspended":           upgradeUnknown,
		"Partial":             upgradeUnknown,
	} {
		require.Equal(t, want, classifyUpgradeStatus(status), "%q", status)
		terminal := want == upgradeSucceeded || want == upgradeFailed

		s := &ProductUpgradesStatus{Status: status}
		require.Equal(t, terminal, s.Terminal(), "%q", status)
		require.Equal(t, want == upgradeUnknown, s.Unknown(), "%q", status)
		require.Equal(t, want == upgradeSucceeded, s.Succeeded(), "%q", status)
		require.Equal(t, want == upgradeFailed, s.Failed(), "%q", status)

		li := &UpgradesLineItem{Status: status}
		require.Equal(t, terminal, li.Terminal(), "%q", status)
		require.Equal(t, want == upgradeSucceeded, li.Succeeded(), "%q", status)
		require.Equal(t, want == upgradeFailed, li.Failed(), "%q", status)
	}

	var s *ProductUpgradesStatus
	require.False(t, s.Unknown())
	require.False(t, s.Partial())
	require.False(t, s.Terminal())
	require.False(t, s.Succeeded())
	require.False(t, s.Failed())
	var li *UpgradesLineItem
	require.False(t, li.Terminal())
	require.False(t, li.Succeeded())
	require.False(t, li.Failed())
}

func TestUpgradesLineItem_upgradedDate(t *testing.T) {
	t.Parallel()

	utc := func(y int, mo time.Month, d, h, mi, s, ns int) *time.Time {
		v := time.Date(y, mo, d, h, mi, s, ns, time.UTC)
		return &v
	}
	for raw, want := range map[string]*time.Time{
		`"2019-08-29T23:47:28.8524555Z"`:      utc(2019, 8, 29, 23, 47, 28, 852455500),
		`"2019-08-29T23:47:28Z"`:              utc(2019, 8, 29, 23, 47, 28, 0),
		`"2022-10-30T00:00:00"`:               utc(2022, 10, 30, 0, 0, 0, 0),
		`"2022-10-30T00:00:00.1234567"`:       utc(2022, 10, 30, 0, 0, 0, 123456700),
		`"2022-10-30T02:00:00+02:00"`:         utc(2022, 10, 30, 0, 0, 0, 0),
		`"2022-10-30T00:00:00.1234567+00:00"`: utc(2022, 10, 30, 0, 0, 0, 123456700),
		`"2022-10-30 00:00:00"`:               utc(2022, 10, 30, 0, 0, 0, 0),
		`"2022-10-30"`:                        utc(2022, 10, 30, 0, 0, 0, 0),
		`"0001-01-01T00:00:00"`:               nil,
		`"0001-01-01T00:00:00Z"`:              nil,
		`""`:                                  nil,
		`"  "`:                                nil,
		`null`:                                nil,
		`"yesterday"`:                         nil,
		`12345`:                               nil,
	} {
		var li UpgradesLineItem
		require.NoError(t, json.Unmarshal([]byte(`{"status":"Completed","upgradedDate":`+raw+`}`), &li), raw)
		require.Equal(t, want, li.UpgradedDate, raw)
		require.Equal(t, "Completed", li.Status, raw)
	}

	var li UpgradesLineItem
	require.NoError(t, json.Unmarshal([]byte(`{"status":"InProgress"}`), &li))
	require.Nil(t, li.UpgradedDate)
	require.Error(t, json.Unmarshal([]byte(`{"status":7}`), &li))
}

func TestUpgradesLineItem_roundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2019, 8, 29, 23, 47, 28, 852455500, time.UTC)
	in := UpgradesLineItem{
		SourceProduct: UpgradeProduct{ID: "s", Name: "AzureSubscription"},
		TargetProduct: UpgradeProduct{ID: "t", Name: "Microsoft Azure plan"},
		UpgradedDate:  &when,
		Status:        "Completed",
		ErrorDetails:  &ErrorDetails{Code: "1", Description: "d"},
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"sourceProduct":{"id":"s","name":"AzureSubscription"},
		"targetProduct":{"id":"t","name":"Microsoft Azure plan"},
		"upgradedDate":"2019-08-29T23:47:28.8524555Z","status":"Completed",
		"errorDetails":{"code":"1","description":"d"}}`, string(b))

	var out UpgradesLineItem
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, in, out)
}

func TestErrorDetails(t *testing.T) {
	t.Parallel()

	for raw, want := range map[string]ErrorDetails{
		`{"code":900114,"description":"d"}`:                {Code: "900114", Description: "d"},
		`{"code":"900114","message":"m"}`:                  {Code: "900114", Message: "m"},
		`{"code":null,"message":"m","description":"d"}`:    {Message: "m", Description: "d"},
		`{"Code":" X1 ","Message":"m"}`:                    {Code: "X1", Message: "m"},
		`{"code":{"nested":1},"attributes":{"etag":"e"}}`:  {Code: `{"nested":1}`},
		`{"code":1.5e3,"description":"d","unknown":[1,2]}`: {Code: "1.5e3", Description: "d"},
	} {
		var got ErrorDetails
		require.NoError(t, json.Unmarshal([]byte(raw), &got), raw)
		require.Equal(t, want, got, raw)
	}

	require.Equal(t, "m — d", (&ErrorDetails{Message: " m ", Description: "d"}).Text(), "neither text is lost")
	require.Equal(t, "d", (&ErrorDetails{Message: "  ", Description: "d"}).Text())
	require.Empty(t, (&ErrorDetails{}).Text())
	var nilDetails *ErrorDetails
	require.Empty(t, nilDetails.Text())
}

func TestProductUpgradesStatus_Partial(t *testing.T) {
	t.Parallel()
	done := UpgradesLineItem{Status: "Completed"}
	failed := UpgradesLineItem{Status: "Failed", ErrorDetails: &ErrorDetails{Code: "900105", Message: "suspended"}}
	for name, tt := range map[string]struct {
		st      ProductUpgradesStatus
		partial bool
	}{
		"Clean":                     {ProductUpgradesStatus{Status: "Completed", LineItems: []UpgradesLineItem{done, done}}, false},
		"FailedLine":                {ProductUpgradesStatus{Status: "Completed", LineItems: []UpgradesLineItem{done, failed}}, true},
		"TopLevelErrorWithoutLines": {ProductUpgradesStatus{Status: "Completed", LineItems: []UpgradesLineItem{done}, ErrorDetails: &ErrorDetails{Code: "900120"}}, true},
		"EmptyErrorDetails":         {ProductUpgradesStatus{Status: "Completed", LineItems: []UpgradesLineItem{done}, ErrorDetails: &ErrorDetails{}}, false},
		"LineStillRunning":          {ProductUpgradesStatus{Status: "Completed", LineItems: []UpgradesLineItem{{Status: "InProgress"}}}, true},
		"FailedOverall":             {ProductUpgradesStatus{Status: "Failed", LineItems: []UpgradesLineItem{failed}}, false},
	} {
		require.Equal(t, tt.partial, tt.st.Partial(), name)
	}
}

func TestErrorDetails_TextKeepsMessageAndDescription(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a", (&ErrorDetails{Message: "a"}).Text())
	require.Equal(t, "b", (&ErrorDetails{Description: "b"}).Text())
	require.Equal(t, "a", (&ErrorDetails{Message: "a", Description: "a"}).Text())
	require.Equal(t, "a — b", (&ErrorDetails{Message: "a", Description: "b"}).Text())
	require.True(t, (&ErrorDetails{Code: "1"}).Present())
	require.False(t, (*ErrorDetails)(nil).Present())
}
