package simulator

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Product and status names as they appear on the wire.
const (
	sourceProductName = "AzureSubscription"
	targetProductName = "Microsoft Azure plan"

	// The only status value any public sample shows is "Completed"; the
	// names of the running and failed states are not documented.
	// InProgress and Failed are this simulator's assumption.
	statusInProgress = "InProgress"
	statusCompleted  = "Completed"
	statusFailed     = "Failed"
)

// descPartialTopLevel is the top-level errorDetails of an upgrade that
// completed with Partial.TopLevelErrorShare: invented, no public sample
// shows one.
const descPartialTopLevel = "The upgrade completed, but billing for one or more Azure subscriptions could not be moved to the Azure plan yet. Contact support if it persists."

// Outcome is what the simulator will do with a customer's product upgrade.
type Outcome struct {
	// Eligible reports whether the eligibility check answers isEligible
	// true (before any upgrade exists for the customer).
	Eligible bool
	// Reason is the eligibility check's reason for an ineligible customer.
	Reason string
	// CreateErrorCode is the Partner Center error code (HTTP 403) a create
	// call returns for an ineligible customer: 900108, 900105, 900130 or
	// 900119. Zero when Eligible.
	CreateErrorCode int
	// Fails reports whether an upgrade, once created, ends Failed.
	Fails bool
	// ErrorCode and ErrorMessage are the top-level errorDetails of a
	// failed upgrade, or of a completed one with Partial.TopLevelError.
	ErrorCode    string
	ErrorMessage string
	// Partial reports an upgrade that ends Completed overall but only in
	// part: with a top-level errorDetails (ErrorCode) and no line item
	// error, or with a Failed line item (see LineItems).
	Partial bool
	// UnknownStatus, when set, is the status value the upgrade reports
	// instead of finishing once Duration is over (Options.Partial).
	UnknownStatus string
	// Duration is how long an upgrade stays InProgress after creation.
	Duration time.Duration
	// LineItems are the legacy subscriptions moved, with their final
	// status. Empty for an ineligible customer.
	LineItems []PredictedLineItem
}

// PredictedLineItem is one line item of an upgrade in its final state.
type PredictedLineItem struct {
	SourceID, SourceName string
	TargetID, TargetName string
	// Status is Completed or Failed.
	Status string
	// ErrorCode and ErrorMessage are set on Failed line items.
	ErrorCode, ErrorMessage string
}

// ineligibility is one way a customer can be ineligible: the eligibility
// reason and the error a create call returns.
type ineligibility struct {
	weight      float64
	reason      string
	code        int
	description string
}

func ineligibilities() []ineligibility {
	return []ineligibility{
		{0.40, "Customer does not have any legacy Azure subscriptions.", codeNoAzureSubscriptions, descNoAzureSubscriptions},
		{0.25, "Customer's Azure subscriptions are suspended.", codeSuspendedSubscriptions, descSuspendedSubscriptions},
		{0.20, "Customer's Azure subscriptions were purchased recently and can't be upgraded yet. Try again later.", codeRecentlyPurchased, descRecentlyPurchased},
		{0.15, "Customer is an Azure Partner Shared Services customer.", codePartnerSharedServices, descPartnerSharedServices},
	}
}

// upgradeFailure is one way an upgrade can fail.
type upgradeFailure struct {
	weight  float64
	code    string
	message string
}

func upgradeFailures() []upgradeFailure {
	return []upgradeFailure{
		{0.50, strconv.Itoa(codeCannotProcessUpgrade), descCannotProcessUpgrade},
		{0.30, strconv.Itoa(codeSuspendedSubscriptions), descSuspendedSubscriptions},
		{0.20, strconv.Itoa(codeUnexpectedError), descUnexpectedError},
	}
}

// Predict returns what will happen to customerID. It is pure: it depends
// only on the options and the lower-cased id, never on requests served.
func (s *Simulator) Predict(customerID string) Outcome {
	id := strings.ToLower(customerID)

	var eligible, fails bool
	switch s.forced[id] {
	case forceIneligible:
		eligible, fails = false, false
	case forceFailing:
		eligible, fails = true, true
	case forceSucceeding:
		eligible, fails = true, false
	default:
		eligible = s.draw(id, "eligible") >= s.opts.IneligibleShare
		fails = eligible && s.draw(id, "fails") < s.opts.FailShare
	}

	if !eligible {
		reasons := ineligibilities()
		weights := make([]float64, len(reasons))
		for i, r := range reasons {
			weights[i] = r.weight
		}
		r := reasons[pick(s.draw(id, "reason"), weights)]
		return Outcome{Reason: r.reason, CreateErrorCode: r.code}
	}

	out := Outcome{Eligible: true, Fails: fails}
	spread := s.opts.MaxDuration - s.opts.MinDuration
	out.Duration = s.opts.MinDuration + time.Duration(s.draw(id, "duration")*float64(spread))

	n := 1 + int(s.draw(id, "lines")*float64(s.opts.MaxLineItems))
	n = min(n, s.opts.MaxLineItems)

	var failure upgradeFailure
	failed := make([]bool, n)
	if fails {
		failures := upgradeFailures()
		weights := make([]float64, len(failures))
		for i, f := range failures {
			weights[i] = f.weight
		}
		failure = failures[pick(s.draw(id, "failure"), weights)]
		out.ErrorCode, out.ErrorMessage = failure.code, failure.message
		anyFailed := false
		for i := range failed {
			failed[i] = s.draw(id, "line-fails/"+strconv.Itoa(i)) < 0.5
			anyFailed = anyFailed || failed[i]
		}
		if !anyFailed {
			failed[n-1] = true
		}
	}

	var failedLine *upgradeFailure
	switch {
	case fails:
	case s.draw(id, "unknown-status") < s.opts.Partial.UnknownStatusShare:
		out.UnknownStatus = s.opts.Partial.UnknownStatus
	case s.draw(id, "partial-top") < s.opts.Partial.TopLevelErrorShare:
		out.Partial = true
		out.ErrorCode, out.ErrorMessage = strconv.Itoa(codeCannotProcessUpgrade), descPartialTopLevel
	case s.draw(id, "partial-line") < s.opts.Partial.FailedLineShare:
		out.Partial = true
		failed[n-1] = true
		failedLine = &upgradeFailure{code: strconv.Itoa(codeSuspendedSubscriptions), message: descSuspendedSubscriptions}
	}
	if failedLine != nil {
		failure = *failedLine
	}

	out.LineItems = make([]PredictedLineItem, n)
	for i := range out.LineItems {
		li := PredictedLineItem{
			SourceID:   s.guid(id, "source/"+strconv.Itoa(i)),
			SourceName: sourceProductName,
			TargetID:   s.guid(id, "target/"+strconv.Itoa(i)),
			TargetName: targetProductName,
			Status:     statusCompleted,
		}
		if failed[i] {
			li.Status, li.ErrorCode, li.ErrorMessage = statusFailed, failure.code, failure.message
		}
		out.LineItems[i] = li
	}
	return out
}

// digest hashes the seed, a purpose label and a lower-cased id.
func (s *Simulator) digest(id, purpose string) [sha256.Size]byte {
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], uint64(s.opts.Seed))
	h := sha256.New()
	h.Write(seed[:])
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(id))
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// draw returns a uniform float in [0,1) for (seed, purpose, id).
func (s *Simulator) draw(id, purpose string) float64 {
	sum := s.digest(id, purpose)
	return float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
}

// guid returns a deterministic GUID for (seed, purpose, id), shaped like a
// random (version 4) one.
func (s *Simulator) guid(id, purpose string) string {
	sum := s.digest(id, "guid/"+purpose)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u.String()
}

// pick maps a uniform u in [0,1) to an index with the given weights.
func pick(u float64, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	acc := 0.0
	for i, w := range weights {
		acc += w / total
		if u < acc {
			return i
		}
	}
	return len(weights) - 1
}
