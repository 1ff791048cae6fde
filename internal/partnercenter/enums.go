package partnercenter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Partner Center sends the enums below sometimes as integers and sometimes
// as strings, in snake_case ("upgrade_only") or PascalCase ("UpgradeOnly").
// Each decodes from any of these forms: a string is compared ignoring case,
// underscores, hyphens and spaces; a string of digits is read as the
// number. Null, an unknown name and any other JSON value decode to the zero
// value (as the official SDK's converter does), so one odd value never
// fails a whole response. An unknown number is kept as is.

// UpgradeType says whether a subscription upgrade also moves user licenses.
//
// It encodes as its snake_case name ("upgrade_only"), as the official SDK's
// EnumJsonConverter writes it; the service reads names and numbers alike. A
// value without a name encodes as its number.
type UpgradeType int

// UpgradeType values.
const (
	UpgradeTypeNone                       UpgradeType = 0
	UpgradeTypeUpgradeOnly                UpgradeType = 1
	UpgradeTypeUpgradeWithLicenseTransfer UpgradeType = 2
)

var upgradeTypeNames = []string{"none", "upgrade_only", "upgrade_with_license_transfer"}

// String returns the snake_case name, or "UpgradeType(n)".
func (t UpgradeType) String() string { return enumString("UpgradeType", upgradeTypeNames, int(t)) }

// MarshalJSON implements json.Marshaler.
func (t UpgradeType) MarshalJSON() ([]byte, error) {
	if name, ok := enumName(upgradeTypeNames, int(t)); ok {
		return json.Marshal(name)
	}
	return []byte(strconv.Itoa(int(t))), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *UpgradeType) UnmarshalJSON(b []byte) error {
	*t = UpgradeType(decodeEnum(b, upgradeTypeNames))
	return nil
}

// ParseUpgradeType returns the UpgradeType named name (its snake_case name,
// any case), and false for a name it does not know.
func ParseUpgradeType(name string) (UpgradeType, bool) {
	for i, n := range upgradeTypeNames {
		if strings.EqualFold(n, strings.TrimSpace(name)) {
			return UpgradeType(i), true
		}
	}
	return UpgradeTypeNone, false
}

// UpgradeErrorCode says why a subscription cannot be upgraded. It encodes as
// a number, the form the official SDK reads.
type UpgradeErrorCode int

// UpgradeErrorCode values. The documentation names 0 to 9; 10 and 11 come
// from the official SDK.
const (
	UpgradeErrorOther                                  UpgradeErrorCode = 0
	UpgradeErrorDelegatedAdminPermissionsDisabled      UpgradeErrorCode = 1
	UpgradeErrorSubscriptionStatusNotActive            UpgradeErrorCode = 2
	UpgradeErrorConflictingServiceTypes                UpgradeErrorCode = 3
	UpgradeErrorConcurrencyConflicts                   UpgradeErrorCode = 4
	UpgradeErrorUserContextRequired                    UpgradeErrorCode = 5
	UpgradeErrorSubscriptionAddOnsPresent              UpgradeErrorCode = 6
	UpgradeErrorSubscriptionDoesNotHaveAnyUpgradePaths UpgradeErrorCode = 7
	UpgradeErrorSubscriptionTargetOfferNotFound        UpgradeErrorCode = 8
	UpgradeErrorSubscriptionNotProvisioned             UpgradeErrorCode = 9
	UpgradeErrorOfferDoesNotSupportBillingCycle        UpgradeErrorCode = 10
	UpgradeErrorInsufficientGranularAdminPermissions   UpgradeErrorCode = 11
)

var upgradeErrorCodeNames = []string{
	"other",
	"delegated_admin_permissions_disabled",
	"subscription_status_not_active",
	"conflicting_service_types",
	"concurrency_conflicts",
	"user_context_required",
	"subscription_add_ons_present",
	"subscription_does_not_have_any_upgrade_paths",
	"subscription_target_offer_not_found",
	"subscription_not_provisioned",
	"offer_does_not_support_billing_cycle",
	"insufficient_granular_admin_permissions",
}

// String returns the snake_case name, or "UpgradeErrorCode(n)".
func (c UpgradeErrorCode) String() string {
	return enumString("UpgradeErrorCode", upgradeErrorCodeNames, int(c))
}

// MarshalJSON implements json.Marshaler.
func (c UpgradeErrorCode) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(int(c))), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (c *UpgradeErrorCode) UnmarshalJSON(b []byte) error {
	*c = UpgradeErrorCode(decodeEnum(b, upgradeErrorCodeNames))
	return nil
}

// TransitionErrorCode says why a subscription cannot be transitioned. It
// encodes as a number, the form Partner Center sends.
type TransitionErrorCode int

// TransitionErrorCode values, from the official SDK.
const (
	TransitionErrorOther                                    TransitionErrorCode = 0
	TransitionErrorDelegatedAdminPermissionsDisabled        TransitionErrorCode = 1
	TransitionErrorSubscriptionStatusNotActive              TransitionErrorCode = 2
	TransitionErrorConflictingServiceTypes                  TransitionErrorCode = 3
	TransitionErrorConcurrencyConflicts                     TransitionErrorCode = 4
	TransitionErrorUserContextRequired                      TransitionErrorCode = 5
	TransitionErrorSubscriptionAddOnsPresent                TransitionErrorCode = 6
	TransitionErrorSubscriptionDoesNotHaveAnyTransitionPath TransitionErrorCode = 7
	TransitionErrorSubscriptionTargetOfferNotFound          TransitionErrorCode = 8
	TransitionErrorSubscriptionNotProvisioned               TransitionErrorCode = 9
	TransitionErrorOfferDoesNotSupportBillingCycle          TransitionErrorCode = 10
	TransitionErrorConversionsNotFound                      TransitionErrorCode = 11
	TransitionErrorUserLicenseError                         TransitionErrorCode = 12
	TransitionErrorInsufficientGranularAdminPermissions     TransitionErrorCode = 13
)

var transitionErrorCodeNames = []string{
	"Other",
	"DelegatedAdminPermissionsDisabled",
	"SubscriptionStatusNotActive",
	"ConflictingServiceTypes",
	"ConcurrencyConflicts",
	"UserContextRequired",
	"SubscriptionAddOnsPresent",
	"SubscriptionDoesNotHaveAnyTransitionedPaths",
	"SubscriptionTargetOfferNotFound",
	"SubscriptionNotProvisioned",
	"OfferDoesNotSupportBillingCycle",
	"ConversionsNotFound",
	"UserLicenseError",
	"InsufficientGranularAdminPermissions",
}

// String returns the PascalCase name, or "TransitionErrorCode(n)".
func (c TransitionErrorCode) String() string {
	return enumString("TransitionErrorCode", transitionErrorCodeNames, int(c))
}

// MarshalJSON implements json.Marshaler.
func (c TransitionErrorCode) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(int(c))), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (c *TransitionErrorCode) UnmarshalJSON(b []byte) error {
	*c = TransitionErrorCode(decodeEnum(b, transitionErrorCodeNames))
	return nil
}

// TargetSubscriptionErrorCode says why an existing subscription cannot be
// the target of a transition. It encodes as a number.
type TargetSubscriptionErrorCode int

// TargetSubscriptionErrorCode values, from the documentation. The
// documentation garbles the name of 4; the name here is descriptive.
const (
	TargetSubscriptionErrorOther                                     TargetSubscriptionErrorCode = 0
	TargetSubscriptionErrorSubscriptionNotActive                     TargetSubscriptionErrorCode = 1
	TargetSubscriptionErrorSubscriptionInCancellationWindow          TargetSubscriptionErrorCode = 2
	TargetSubscriptionErrorTermDurationShorterThanSourceTermDuration TargetSubscriptionErrorCode = 3
	TargetSubscriptionErrorTermEndDateBeforeSourceTermEndDate        TargetSubscriptionErrorCode = 4
)

var targetSubscriptionErrorCodeNames = []string{
	"Other",
	"SubscriptionNotActive",
	"SubscriptionInCancellationWindow",
	"SubscriptionTermDurationShorterThanSourceTermDuration",
	"SubscriptionTermEndDateBeforeSourceTermEndDate",
}

// String returns the PascalCase name, or "TargetSubscriptionErrorCode(n)".
func (c TargetSubscriptionErrorCode) String() string {
	return enumString("TargetSubscriptionErrorCode", targetSubscriptionErrorCodeNames, int(c))
}

// MarshalJSON implements json.Marshaler.
func (c TargetSubscriptionErrorCode) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Itoa(int(c))), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *TargetSubscriptionErrorCode) UnmarshalJSON(b []byte) error {
	*c = TargetSubscriptionErrorCode(decodeEnum(b, targetSubscriptionErrorCodeNames))
	return nil
}

// Transition types.
const (
	TransitionTypeOnly                = "transition_only"
	TransitionTypeWithLicenseTransfer = "transition_with_license_transfer"
)

// Eligibility types for TransitionsService.Eligibilities.
const (
	EligibilityImmediate = "immediate"
	EligibilityScheduled = "scheduled"
)

func enumName(names []string, v int) (string, bool) {
	if v < 0 || v >= len(names) {
		return "", false
	}
	return names[v], true
}

func enumString(typ string, names []string, v int) string {
	if name, ok := enumName(names, v); ok {
		return name
	}
	return typ + "(" + strconv.Itoa(v) + ")"
}

// foldEnumName reduces a name to lower case without separators, so that
// "upgrade_only", "UpgradeOnly" and "upgrade-only" compare equal.
func foldEnumName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case '_', '-', ' ', '\t':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// decodeEnum reads an enum value leniently, as described above.
func decodeEnum(b []byte, names []string) int {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return 0
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0
		}
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		return int(n)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && b[0] != '"' {
		// 2.0 or 2e0; anything fractional or out of range is unknown.
		if f == float64(int32(f)) {
			return int(int32(f))
		}
		return 0
	}
	folded := foldEnumName(s)
	for i, name := range names {
		if foldEnumName(name) == folded {
			return i
		}
	}
	return 0
}
