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

// Terminal reports whether the upgrade has finished, successfully or not.
func (s *ProductUpgradesStatus) Terminal() bool {
	return s != nil && classifyUpgradeStatus(s.Status) != upgradeRunning
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
	return li != nil && classifyUpgradeStatus(li.Status) != upgradeRunning
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

// Text returns the message, or the description when there is no message.
// It is safe to call on a nil *ErrorDetails.
func (d *ErrorDetails) Text() string {
	if d == nil {
		return ""
	}
	if m := strings.TrimSpace(d.Message); m != "" {
		return m
	}
	return strings.TrimSpace(d.Description)
}

// upgradeState is the coarse state behind a product-upgrade status string.
type upgradeState int

const (
	upgradeRunning upgradeState = iota
	upgradeSucceeded
	upgradeFailed
)

// classifyUpgradeStatus maps a status string to a state. The service
// documents only "Completed", so: "completed" (trimmed, any case) is
// success, anything mentioning "fail" or "cancel" is a failure, and
// everything else, including the empty string, is still running.
func classifyUpgradeStatus(s string) upgradeState {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "completed":
		return upgradeSucceeded
	case strings.Contains(s, "fail"), strings.Contains(s, "cancel"):
		return upgradeFailed
	default:
		return upgradeRunning
	}
}
