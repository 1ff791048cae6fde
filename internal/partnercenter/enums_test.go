package partnercenter

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUpgradeType_JSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want UpgradeType
	}{
		{`1`, UpgradeTypeUpgradeOnly},
		{`2`, UpgradeTypeUpgradeWithLicenseTransfer},
		{`2.0`, UpgradeTypeUpgradeWithLicenseTransfer},
		{`"upgrade_only"`, UpgradeTypeUpgradeOnly},
		{`"UpgradeOnly"`, UpgradeTypeUpgradeOnly},
		{`" UPGRADE_WITH_LICENSE_TRANSFER "`, UpgradeTypeUpgradeWithLicenseTransfer},
		{`"UpgradeWithLicenseTransfer"`, UpgradeTypeUpgradeWithLicenseTransfer},
		{`"2"`, UpgradeTypeUpgradeWithLicenseTransfer},
		{`"none"`, UpgradeTypeNone},
		{`null`, UpgradeTypeNone},
		{`"something_new"`, UpgradeTypeNone},
		{`true`, UpgradeTypeNone},
		{`1.5`, UpgradeTypeNone},
		{`1e40`, UpgradeTypeNone},
		{`7`, UpgradeType(7)},
	}
	for _, tt := range tests {
		var got UpgradeType
		require.NoError(t, json.Unmarshal([]byte(tt.in), &got), tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}

	// Canonical form: the snake_case name, as the SDK writes it; a value
	// without a name as its number.
	for v, want := range map[UpgradeType]string{
		UpgradeTypeNone: `"none"`, UpgradeTypeUpgradeOnly: `"upgrade_only"`,
		UpgradeTypeUpgradeWithLicenseTransfer: `"upgrade_with_license_transfer"`, UpgradeType(9): `9`,
	} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.Equal(t, want, string(b))
	}
	require.Equal(t, "UpgradeType(9)", UpgradeType(9).String())
	require.Equal(t, "upgrade_only", UpgradeTypeUpgradeOnly.String())

	// An object field that is not an enum at all does not fail the struct.
	var up Upgrade
	require.NoError(t, json.Unmarshal([]byte(`{"upgradeType":{"x":1},"upgradeErrors":[{"code":[1]}]}`), &up))
	require.Equal(t, UpgradeTypeNone, up.UpgradeType)
	require.Equal(t, UpgradeErrorOther, up.UpgradeErrors[0].Code)
}

func TestErrorCodes_JSON(t *testing.T) {
	t.Parallel()
	upgrade := map[string]UpgradeErrorCode{
		`2`: UpgradeErrorSubscriptionStatusNotActive, `"subscription_status_not_active"`: UpgradeErrorSubscriptionStatusNotActive,
		`"SubscriptionStatusNotActive"`: UpgradeErrorSubscriptionStatusNotActive, `"user_context_required"`: UpgradeErrorUserContextRequired,
		`11`: UpgradeErrorInsufficientGranularAdminPermissions, `"insufficient_granular_admin_permissions"`: UpgradeErrorInsufficientGranularAdminPermissions,
		`42`: UpgradeErrorCode(42), `"nope"`: UpgradeErrorOther,
	}
	for in, want := range upgrade {
		var got UpgradeErrorCode
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}
	transition := map[string]TransitionErrorCode{
		`3`: TransitionErrorConflictingServiceTypes, `"ConflictingServiceTypes"`: TransitionErrorConflictingServiceTypes,
		`"conflicting_service_types"`: TransitionErrorConflictingServiceTypes, `"UserLicenseError"`: TransitionErrorUserLicenseError,
		`"subscription_does_not_have_any_transitioned_paths"`: TransitionErrorSubscriptionDoesNotHaveAnyTransitionPath,
		`13`: TransitionErrorInsufficientGranularAdminPermissions, `-1`: TransitionErrorCode(-1),
	}
	for in, want := range transition {
		var got TransitionErrorCode
		require.NoError(t, json.Unmarshal([]byte(in), &got), in)
		require.Equal(t, want, got, in)
	}

	// Error codes encode as numbers, the form Partner Center sends.
	b, err := json.Marshal(UpgradeError{Code: UpgradeErrorConcurrencyConflicts})
	require.NoError(t, err)
	require.JSONEq(t, `{"code":4}`, string(b))
	b, err = json.Marshal(TransitionError{Code: TransitionErrorUserContextRequired, Description: "d"})
	require.NoError(t, err)
	require.JSONEq(t, `{"code":5,"description":"d"}`, string(b))
	b, err = json.Marshal(TargetSubscriptionError{Code: TargetSubscriptionErrorSubscriptionInCancellationWindow})
	require.NoError(t, err)
	require.JSONEq(t, `{"code":2}`, string(b))

	require.Equal(t, "subscription_not_provisioned", UpgradeErrorSubscriptionNotProvisioned.String())
	require.Equal(t, "UserContextRequired", TransitionErrorUserContextRequired.String())
	require.Equal(t, "TransitionErrorCode(99)", TransitionErrorCode(99).String())
	require.Equal(t, "SubscriptionNotActive", TargetSubscriptionErrorSubscriptionNotActive.String())
}

func TestParseUpgradeType(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]UpgradeType{
		"upgrade_only":                   UpgradeTypeUpgradeOnly,
		" Upgrade_With_License_Transfer": UpgradeTypeUpgradeWithLicenseTransfer,
		"none":                           UpgradeTypeNone,
	} {
		got, ok := ParseUpgradeType(name)
		require.True(t, ok, name)
		require.Equal(t, want, got, name)
	}
	for _, name := range []string{"", "upgrade", "2", "upgrade-only"} {
		_, ok := ParseUpgradeType(name)
		require.False(t, ok, name)
	}
}
