package simulator

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Operation names. They key Options.Latency and the map returned by
// Simulator.Requests; a replayed request is counted as the operation name
// followed by "_replayed".
const (
	OpToken                     = "token"
	OpProductUpgradeEligibility = "product_upgrade_eligibility"
	OpProductUpgradeCreate      = "product_upgrade_create"
	OpProductUpgradeStatus      = "product_upgrade_status"

	OpSubscriptionUpgrades      = "subscription_upgrades"       // GET .../subscriptions/{s}/upgrades
	OpSubscriptionUpgradeCreate = "subscription_upgrade_create" // POST .../subscriptions/{s}/upgrades
	OpTransitionEligibilities   = "transition_eligibilities"    // GET .../transitionEligibilities
	OpTransitionCreate          = "transition_create"           // POST .../transitions
	OpTransitions               = "transitions"                 // GET .../transitions

	// OpUnrouted counts requests that matched no route, or matched a route
	// with another method. It cannot be delayed.
	OpUnrouted = "unrouted"
)

// Defaults applied by DefaultOptions and, for zero values, by New.
const (
	DefaultIneligibleShare = 0.10
	DefaultFailShare       = 0.10
	DefaultMinDuration     = 5 * time.Second
	DefaultMaxDuration     = 15 * time.Second
	DefaultMaxLineItems    = 3
	DefaultTokenTTL        = time.Hour
	// DefaultLicenseErrorShare is the share of customers whose subscription
	// upgrades with license transfer report license errors.
	DefaultLicenseErrorShare = 0.05
)

// operations lists the operations a latency may be configured for.
func operations() []string {
	return []string{OpToken, OpProductUpgradeEligibility, OpProductUpgradeCreate, OpProductUpgradeStatus,
		OpSubscriptionUpgrades, OpSubscriptionUpgradeCreate, OpTransitionEligibilities, OpTransitionCreate, OpTransitions}
}

// Options configure a Simulator. Zero values take documented defaults,
// except the shares, where zero means "none": start from DefaultOptions to
// get the default shares.
type Options struct {
	// Seed selects the simulated world: every outcome is a pure function of
	// (Seed, lower-cased customer id).
	Seed int64

	// IneligibleShare is the share of customers that are not eligible for
	// a product upgrade, in [0,1]. DefaultOptions sets 0.10.
	IneligibleShare float64

	// FailShare is the share of eligible customers whose upgrade ends in
	// Failed, in [0,1]. DefaultOptions sets 0.10.
	FailShare float64

	// Ineligible, Failing and Succeeding force the outcome of the listed
	// customer ids (GUIDs, compared case-insensitively) regardless of the
	// shares. An id may appear in at most one list.
	Ineligible []string
	Failing    []string
	Succeeding []string

	// MinDuration and MaxDuration bound how long an upgrade stays
	// InProgress; each customer gets a deterministic duration in the range.
	// Both zero means 5s..15s; MaxDuration zero with MinDuration set means a
	// fixed MinDuration. The simulated clock (Now) decides when an upgrade
	// is finished.
	MinDuration time.Duration
	MaxDuration time.Duration

	// MaxLineItems is the largest number of legacy Azure subscriptions
	// (line items) a customer has; each eligible customer gets a
	// deterministic count in 1..MaxLineItems. Zero means 3.
	MaxLineItems int

	// TokenTTL is the lifetime of issued access tokens. Zero means 1h.
	TokenTTL time.Duration

	// Latency delays the response of an operation (keys are the Op*
	// constants except OpUnrouted). The delay runs on the real clock after
	// the work is done and recorded and before the response is written, so
	// a client that gives up during the delay still caused the effect.
	Latency map[string]time.Duration

	// Now is the simulated clock. Nil means time.Now.
	Now func() time.Time

	// LicenseErrorShare is the share of customers whose subscription
	// upgrades of type upgrade_with_license_transfer report licenseErrors,
	// in [0,1]. DefaultOptions sets 0.05.
	LicenseErrorShare float64

	// ClockSpeedup makes simulated time run N times faster than Now for
	// lifecycles (upgrades, transitions) and token expiry. Zero means 1.
	// Rate limits, Retry-After and latencies stay on the unscaled clock.
	ClockSpeedup float64

	// PinCredentials, when set, makes the token endpoint accept only this
	// client id and secret; others get invalid_client.
	PinCredentials *Credentials

	// RateLimits are token buckets per operation (keys: the Op* constants
	// except OpToken and OpUnrouted). Nil means no rate limits;
	// DefaultRateLimits returns the documented ones.
	RateLimits map[string]RateLimit

	// Faults inject failures per operation (keys: the Op* constants except
	// OpUnrouted, or "*" for every Partner Center operation without an
	// entry of its own).
	Faults map[string]Fault

	// TokenOutage makes the token endpoint answer 503.
	TokenOutage TokenOutage

	// Outages take Partner Center, or its token endpoint alone, away for a
	// while (see Outage).
	Outages []Outage

	// Partial makes Partner Center complete some work only in part, or
	// report a status value clients do not know. The zero value does
	// neither.
	Partial Partial
}

// DefaultUnknownStatus is the status value Partial.UnknownStatus defaults
// to: one no public source documents.
const DefaultUnknownStatus = "Suspended"

// Partial configures results that Partner Center completes only in part.
// Each share is drawn per customer (product upgrades) or per
// customer/subscription pair (transitions) on draws of its own, so a world
// without them is unchanged.
type Partial struct {
	// TopLevelErrorShare is the share of the eligible customers whose
	// product upgrade would complete that end Completed with a top-level
	// errorDetails and no line item error.
	TopLevelErrorShare float64
	// FailedLineShare is the share of the remaining ones that end
	// Completed overall with their last line item Failed (with its
	// errorDetails).
	FailedLineShare float64
	// ConvertedThenFailedShare is the share of the transitions that would
	// complete whose Conversion completes and whose LicenseReassignment
	// then fails with two errors. It applies to transitions with license
	// transfer only (others have no later event) .
	ConvertedThenFailedShare float64
	// UnknownStatusShare is the share of the eligible customers' product
	// upgrades, and of transitions, that report UnknownStatus instead of
	// finishing once their lifecycle is over, forever.
	UnknownStatusShare float64
	// UnknownStatus is that status value; DefaultUnknownStatus when empty.
	UnknownStatus string
}

// DefaultOptions returns the options used by `make demo`: 10% ineligible
// customers, 10% failing upgrades, upgrades lasting 5s..15s.
func DefaultOptions() Options {
	return Options{
		IneligibleShare: DefaultIneligibleShare,
		FailShare:       DefaultFailShare,
		MinDuration:     DefaultMinDuration,
		MaxDuration:     DefaultMaxDuration,
		MaxLineItems:    DefaultMaxLineItems,
		TokenTTL:        DefaultTokenTTL,
		Now:             time.Now,

		LicenseErrorShare: DefaultLicenseErrorShare,
	}
}

// normalize returns a copy of o with defaults applied, or an error that
// lists every invalid setting.
func (o Options) normalize() (Options, error) {
	var errs []error
	for _, sh := range []struct {
		name string
		v    float64
	}{{"IneligibleShare", o.IneligibleShare}, {"FailShare", o.FailShare}, {"LicenseErrorShare", o.LicenseErrorShare},
		{"Partial.TopLevelErrorShare", o.Partial.TopLevelErrorShare}, {"Partial.FailedLineShare", o.Partial.FailedLineShare},
		{"Partial.ConvertedThenFailedShare", o.Partial.ConvertedThenFailedShare}, {"Partial.UnknownStatusShare", o.Partial.UnknownStatusShare}} {
		if math.IsNaN(sh.v) || sh.v < 0 || sh.v > 1 {
			errs = append(errs, fmt.Errorf("%s %v is outside [0,1]", sh.name, sh.v))
		}
	}

	switch {
	case o.MinDuration < 0 || o.MaxDuration < 0:
		errs = append(errs, fmt.Errorf("durations must not be negative (MinDuration %s, MaxDuration %s)", o.MinDuration, o.MaxDuration))
	case o.MinDuration == 0 && o.MaxDuration == 0:
		o.MinDuration, o.MaxDuration = DefaultMinDuration, DefaultMaxDuration
	case o.MaxDuration == 0:
		o.MaxDuration = o.MinDuration
	case o.MaxDuration < o.MinDuration:
		errs = append(errs, fmt.Errorf("MaxDuration %s is less than MinDuration %s", o.MaxDuration, o.MinDuration))
	}

	switch {
	case o.MaxLineItems < 0:
		errs = append(errs, fmt.Errorf("MaxLineItems %d is negative", o.MaxLineItems))
	case o.MaxLineItems == 0:
		o.MaxLineItems = DefaultMaxLineItems
	}

	switch {
	case o.TokenTTL < 0:
		errs = append(errs, fmt.Errorf("TokenTTL %s is negative", o.TokenTTL))
	case o.TokenTTL == 0:
		o.TokenTTL = DefaultTokenTTL
	}

	latency := make(map[string]time.Duration, len(o.Latency))
	for op, d := range o.Latency {
		if !knownOperation(op) {
			errs = append(errs, fmt.Errorf("Latency: unknown operation %q (known: %s)", op, strings.Join(operations(), ", ")))
			continue
		}
		if d < 0 {
			errs = append(errs, fmt.Errorf("Latency[%s] %s is negative", op, d))
			continue
		}
		latency[op] = d
	}
	o.Latency = latency

	seen := make(map[string]string)
	for _, list := range []struct {
		name string
		ids  []string
	}{{"Ineligible", o.Ineligible}, {"Failing", o.Failing}, {"Succeeding", o.Succeeding}} {
		for _, id := range list.ids {
			key, ok := customerKey(id)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %q is not a GUID", list.name, id))
				continue
			}
			if prev, dup := seen[key]; dup && prev != list.name {
				errs = append(errs, fmt.Errorf("customer %s is listed in both %s and %s", key, prev, list.name))
				continue
			}
			seen[key] = list.name
		}
	}
	o.Ineligible = append([]string(nil), o.Ineligible...)
	o.Failing = append([]string(nil), o.Failing...)
	o.Succeeding = append([]string(nil), o.Succeeding...)

	if o.Now == nil {
		o.Now = time.Now
	}
	o.Partial.UnknownStatus = strings.TrimSpace(o.Partial.UnknownStatus)
	if o.Partial.UnknownStatus == "" {
		o.Partial.UnknownStatus = DefaultUnknownStatus
	}
	switch folded := strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(o.Partial.UnknownStatus)); {
	case folded == "completed", strings.Contains(folded, "fail"), strings.Contains(folded, "cancel"),
		folded == "inprogress", folded == "started", folded == "pending", folded == "running", folded == "processing",
		folded == "notstarted", folded == "queued":
		errs = append(errs, fmt.Errorf("Partial.UnknownStatus %q is a status clients know; pick another (such as %s)", o.Partial.UnknownStatus, DefaultUnknownStatus))
	}
	switch {
	case math.IsNaN(o.ClockSpeedup) || o.ClockSpeedup < 0:
		errs = append(errs, fmt.Errorf("ClockSpeedup %v is negative", o.ClockSpeedup))
	case o.ClockSpeedup == 0:
		o.ClockSpeedup = 1
	}
	if o.PinCredentials != nil && (o.PinCredentials.ClientID == "" || o.PinCredentials.ClientSecret == "") {
		errs = append(errs, errors.New("PinCredentials needs both ClientID and ClientSecret"))
	}
	errs = append(errs, o.normalizeFaults()...)
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("simulator: invalid options: %w", errors.Join(errs...))
	}
	return o, nil
}

func knownOperation(op string) bool {
	for _, known := range operations() {
		if op == known {
			return true
		}
	}
	return false
}
