package partnercenter

import (
	"encoding/json"
	"strings"
	"time"
)

// ProductFamilyAzure is the product family of a move from legacy Azure
// subscriptions (MS-AZR-0145P) to the Azure plan.
const ProductFamilyAzure = "Azure"

// ProductUpgradesRequest names the customer and product family of a product
// upgrade. It is the body of all three product-upgrade endpoints.
type ProductUpgradesRequest struct {
	// CustomerID is the customer's tenant ID (a GUID).
	CustomerID string `json:"customerId"`
	// ProductFamily is the family to upgrade to; ProductFamilyAzure when
	// left empty.
	ProductFamily string `json:"productFamily"`
}

// ProductUpgradesEligibility says whether a customer can be upgraded.
type ProductUpgradesEligibility struct {
	// CustomerID is the customer's tenant ID.
	CustomerID string `json:"customerId"`
	// ProductFamily echoes the requested family (its case may differ).
	ProductFamily string `json:"productFamily"`
	// IsEligible reports whether an upgrade may be created.
	IsEligible bool `json:"isEligible"`
	// UpgradeID is set when an upgrade for this family already exists.
	UpgradeID string `json:"upgradeId,omitempty"`
	// Reason explains, in free text, why the customer is not eligible.
	Reason string `json:"reason,omitempty"`
}

// ProductUpgradesStatus is the progress of one product upgrade.
type ProductUpgradesStatus struct {
	// ID is the upgrade ID.
	ID string `json:"id"`
	// ProductFamily is the family being upgraded to.
	ProductFamily string `json:"productFamily"`
	// Status is the overall state. Only "Completed" is documented; compare
	// with Terminal, Succeeded and Failed rather than directly.
	Status string `json:"status"`
	// LineItems has one entry per legacy Azure subscription being moved.
	LineItems []UpgradesLineItem `json:"lineItems,omitempty"`
	// ErrorDetails explains a failed upgrade, if the server says why.
	ErrorDetails *ErrorDetails `json:"errorDetails,omitempty"`
}

// Terminal reports whether the upgrade has finished, successfully or not. A
// status the client does not know (see Unknown) is not terminal.
func (s *ProductUpgradesStatus) Terminal() bool {
	return s != nil && classifyUpgradeStatus(s.Status).terminal()
}

// Unknown reports whether the overall status is a value the client does not
// know: neither completed, failed or cancelled, nor one of the values that
// mean the work is still running (KnownRunningStatuses).
func (s *ProductUpgradesStatus) Unknown() bool {
	return s != nil && classifyUpgradeStatus(s.Status) == upgradeUnknown
}

// Partial reports whether a completed upgrade still carries something a
// person must look at: a top-level errorDetails, or a line item that did
// not complete or that carries errorDetails.
func (s *ProductUpgradesStatus) Partial() bool {
	if !s.Succeeded() {
		return false
	}
	if s.ErrorDetails.Present() {
		return true
	}
	for i := range s.LineItems {
		if !s.LineItems[i].Succeeded() || s.LineItems[i].ErrorDetails.Present() {
			return true
		}
	}
	return false
}

// Succeeded reports whether the upgrade completed. It looks only at the
// overall status, not at the line items.
func (s *ProductUpgradesStatus) Succeeded() bool {
	return s != nil && classifyUpgradeStatus(s.Status) == upgradeSucceeded
}

// Failed reports whether the upgrade finished without completing (its status
// mentions failure or cancellation).
func (s *ProductUpgradesStatus) Failed() bool {
	return s != nil && classifyUpgradeStatus(s.Status) == upgradeFailed
}

// UpgradesLineItem is the move of one subscription within a product
// upgrade.
type UpgradesLineItem struct {
	// SourceProduct is the legacy subscription (name "AzureSubscription").
	SourceProduct UpgradeProduct `json:"sourceProduct"`
	// TargetProduct is the Azure plan (name "Microsoft Azure plan").
	TargetProduct UpgradeProduct `json:"targetProduct"`
	// UpgradedDate is when the item was upgraded, in UTC; nil when the
	// server sent none, a zero date or a date that cannot be read.
	UpgradedDate *time.Time `json:"upgradedDate,omitempty"`
	// Status is the item's state, with the same values as the overall one.
	Status string `json:"status"`
	// ErrorDetails explains a failed item, if the server says why.
	ErrorDetails *ErrorDetails `json:"errorDetails,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, reading upgradedDate leniently.
func (li *UpgradesLineItem) UnmarshalJSON(b []byte) error {
	type plain UpgradesLineItem
	var aux struct {
		plain
		UpgradedDate flexTime `json:"upgradedDate"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*li = UpgradesLineItem(aux.plain)
	li.UpgradedDate = aux.UpgradedDate.t
	return nil
}

// Terminal reports whether the item has finished, successfully or not.
func (li *UpgradesLineItem) Terminal() bool {
	return li != nil && classifyUpgradeStatus(li.Status).terminal()
}

// Succeeded reports whether the item completed.
func (li *UpgradesLineItem) Succeeded() bool {
	return li != nil && classifyUpgradeStatus(li.Status) == upgradeSucceeded
}

// Failed reports whether the item finished without completing.
func (li *UpgradesLineItem) Failed() bool {
	return li != nil && classifyUpgradeStatus(li.Status) == upgradeFailed
}

// UpgradeProduct identifies the product on one side of an upgrade.
type UpgradeProduct struct {
	// ID is the product (subscription) ID.
	ID string `json:"id"`
	// Name is the product name.
	Name string `json:"name"`
}

// ErrorDetails explains why an upgrade or one of its items failed. The
// documentation names the text "message" while the service model calls it
// "description"; both are decoded. Code may arrive as a number or a string.
type ErrorDetails struct {
	// Code is the error code, as text.
	Code string `json:"code,omitempty"`
	// Message is the error text as documented.
	Message string `json:"message,omitempty"`
	// Description is the error text as the service model names it.
	Description string `json:"description,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler, accepting a numeric code.
func (d *ErrorDetails) UnmarshalJSON(b []byte) error {
	type plain ErrorDetails
	var aux struct {
		plain
		Code flexString `json:"code"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*d = ErrorDetails(aux.plain)
	d.Code = string(aux.Code)
	return nil
}

// Text returns the message and the description, once when they say the
// same, so neither is lost. It is safe to call on a nil *ErrorDetails.
func (d *ErrorDetails) Text() string {
	if d == nil {
		return ""
	}
	m, desc := strings.TrimSpace(d.Message), strings.TrimSpace(d.Description)
	switch {
	case m == "":
		return desc
	case desc == "" || desc == m:
		return m
	default:
		return m + " — " + desc
	}
}

// Present reports whether d says anything: a code or a text. It is safe to
// call on a nil *ErrorDetails.
func (d *ErrorDetails) Present() bool {
	return d != nil && (strings.TrimSpace(d.Code) != "" || d.Text() != "")
}

// upgradeState is the coarse state behind a product-upgrade status string.
type upgradeState int

const (
	upgradeRunning upgradeState = iota
	upgradeSucceeded
	upgradeFailed
	// upgradeUnknown is a status value the client does not know: it is
	// not taken as final, but it is not known to be running either.
	upgradeUnknown
)

func (s upgradeState) terminal() bool { return s == upgradeSucceeded || s == upgradeFailed }

// KnownRunningStatuses are the status values (compared ignoring case,
// spaces, underscores and hyphens) taken to mean that work is still
// running: the empty string, InProgress (the simulator's and the SDK's
// word), Started (the documentation's transition events) and the states
// the error catalogue speaks of (pending, in progress), plus their obvious
// neighbours. Any other value that is neither completed nor failed is
// unknown: it is recorded verbatim and, after a bounded number of polls,
// shown to a person instead of being polled for days.
func KnownRunningStatuses() []string {
	return []string{"", "inprogress", "started", "pending", "running", "processing", "notstarted", "queued"}
}

// classifyUpgradeStatus maps a status string to a state. The service
// documents only "Completed", so: "completed" (trimmed, any case) is
// success, anything mentioning "fail" or "cancel" is a failure, the values
// of KnownRunningStatuses are still running and anything else is unknown.
func classifyUpgradeStatus(s string) upgradeState {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "completed":
		return upgradeSucceeded
	case strings.Contains(s, "fail"), strings.Contains(s, "cancel"):
		return upgradeFailed
	}
	folded := foldEnumName(s)
	for _, r := range KnownRunningStatuses() {
		if folded == r {
			return upgradeRunning
		}
	}
	return upgradeUnknown
}
