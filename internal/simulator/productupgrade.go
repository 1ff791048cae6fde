package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Product upgrades: legacy Azure (MS-AZR-0145P) to the Azure plan.
//
//	POST /v1/productUpgrades/eligibility      -> 200 ProductUpgradesEligibility
//	POST /v1/productUpgrades                  -> 202, empty body, Location: productUpgrades/{id}
//	POST /v1/productUpgrades/{id}/status      -> 200 ProductUpgradesStatus
//
// All three take a ProductUpgradesRequest body and need an app+user token.
// Status is derived from the clock when asked: an upgrade is InProgress
// until created+Outcome.Duration, then Completed or Failed.
//
// Choices where the public documentation is silent:
//   - Status strings other than "Completed" are assumptions: InProgress and
//     Failed; with Options.Partial, some upgrades report an undocumented
//     value (Partial.UnknownStatus) forever, some complete with a top-level
//     errorDetails and some complete with a Failed line item.
//   - errorDetails carries the text under both "message" (the REST docs'
//     name) and "description" (the .NET SDK's name), with a numeric string
//     "code" such as "900120", so clients written against either source
//     decode it.
//   - Eligibility answers isEligible false with the upgradeId once any
//     upgrade exists for the customer, whatever its status. A create call
//     after a Failed upgrade starts a new upgrade (with the same predicted
//     outcome); after a Completed one it gets 400/900110, while one is
//     InProgress 409/900109.

// productFamilyAzure is the only product family that can be upgraded.
const productFamilyAzure = "Azure"

// upgradedDateLayout renders upgradedDate with seven fractional digits, as
// in "2019-08-29T23:47:28.8524555Z".
const upgradedDateLayout = "2006-01-02T15:04:05.0000000Z"

// resourceAttributes is the "attributes" member of every resource.
type resourceAttributes struct {
	ObjectType string `json:"objectType,omitempty"`
	Etag       string `json:"etag,omitempty"`
}

// productUpgradesRequest is the body of all three calls. Keys are matched
// case-insensitively, so PascalCase bodies from the .NET SDK decode too.
type productUpgradesRequest struct {
	CustomerID    string              `json:"customerId"`
	ProductFamily string              `json:"productFamily"`
	Attributes    *resourceAttributes `json:"attributes,omitempty"`
}

type productUpgradesEligibility struct {
	CustomerID    string             `json:"customerId"`
	ProductFamily string             `json:"productFamily"`
	IsEligible    bool               `json:"isEligible"`
	UpgradeID     string             `json:"upgradeId,omitempty"`
	Reason        string             `json:"reason,omitempty"`
	Attributes    resourceAttributes `json:"attributes"`
}

type productUpgradesStatus struct {
	ID            string             `json:"id"`
	ProductFamily string             `json:"productFamily"`
	Status        string             `json:"status"`
	LineItems     []upgradesLineItem `json:"lineItems"`
	ErrorDetails  *errorDetails      `json:"errorDetails,omitempty"`
	Attributes    resourceAttributes `json:"attributes"`
}

type upgradesLineItem struct {
	SourceProduct upgradeProduct `json:"sourceProduct"`
	TargetProduct upgradeProduct `json:"targetProduct"`
	UpgradedDate  string         `json:"upgradedDate,omitempty"`
	Status        string         `json:"status"`
	ErrorDetails  *errorDetails  `json:"errorDetails,omitempty"`
}

type upgradeProduct struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// errorDetails carries the same text as message and description; see the
// package comment above.
type errorDetails struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

func newErrorDetails(code, text string) *errorDetails {
	return &errorDetails{Code: code, Message: text, Description: text}
}

// upgrade is one created product upgrade.
type upgrade struct {
	id            string
	customerID    string // lower-cased
	productFamily string
	createdAt     time.Time
	outcome       Outcome
}

func (u *upgrade) finishedAt() time.Time { return u.createdAt.Add(u.outcome.Duration) }

// status is the upgrade's status at now.
func (u *upgrade) status(now time.Time) string {
	switch {
	case now.Before(u.finishedAt()):
		return statusInProgress
	case u.outcome.UnknownStatus != "":
		return u.outcome.UnknownStatus
	case u.outcome.Fails:
		return statusFailed
	default:
		return statusCompleted
	}
}

// latestUpgrade returns the customer's newest upgrade, or nil. The caller
// holds s.mu.
func (s *Simulator) latestUpgrade(customerKey string) *upgrade {
	list := s.byCustomer[customerKey]
	if len(list) == 0 {
		return nil
	}
	return list[len(list)-1]
}

// decodeUpgradeRequest validates a ProductUpgradesRequest body and returns
// it with the lower-cased customer id.
func decodeUpgradeRequest(body []byte) (productUpgradesRequest, string, *response) {
	var in productUpgradesRequest
	if err := json.Unmarshal(body, &in); err != nil {
		resp := partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": the request body is not a valid ProductUpgradesRequest.")
		return in, "", &resp
	}
	key, ok := customerKey(in.CustomerID)
	if !ok {
		resp := partnerError(http.StatusBadRequest, codeInvalidCustomerID, descInvalidCustomerID)
		return in, "", &resp
	}
	if strings.TrimSpace(in.ProductFamily) == "" {
		resp := partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": productFamily is required.")
		return in, "", &resp
	}
	if !strings.EqualFold(strings.TrimSpace(in.ProductFamily), productFamilyAzure) {
		resp := partnerError(http.StatusBadRequest, codeCatalogItemNotFound, descCatalogItemNotFound)
		return in, "", &resp
	}
	return in, key, nil
}

// customerKey returns the lower-cased form of a customer id, and whether it
// is a GUID in the 36-character form.
func customerKey(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", false
	}
	return strings.ToLower(id), true
}

// productUpgradeEligibility serves POST /v1/productUpgrades/eligibility.
func (s *Simulator) productUpgradeEligibility(req *request) response {
	in, key, bad := decodeUpgradeRequest(req.body)
	if bad != nil {
		return *bad
	}
	out := productUpgradesEligibility{
		CustomerID:    in.CustomerID,
		ProductFamily: in.ProductFamily,
		Attributes:    resourceAttributes{ObjectType: "ProductUpgradesEligibility"},
	}
	if u := s.latestUpgrade(key); u != nil {
		out.UpgradeID = u.id
		switch st := u.status(req.now); {
		case st == statusInProgress || st == u.outcome.UnknownStatus:
			out.Reason = fmt.Sprintf("An upgrade %s for this customer is already in progress.", u.id)
		case st == statusCompleted:
			out.Reason = fmt.Sprintf("The customer has already been upgraded to the Azure plan by upgrade %s.", u.id)
		default:
			out.Reason = fmt.Sprintf("A previous upgrade %s for this customer failed.", u.id)
		}
		return jsonResponse(http.StatusOK, out)
	}
	o := s.Predict(key)
	out.IsEligible, out.Reason = o.Eligible, o.Reason
	return jsonResponse(http.StatusOK, out)
}

// productUpgradeCreate serves POST /v1/productUpgrades.
func (s *Simulator) productUpgradeCreate(req *request) response {
	_, key, bad := decodeUpgradeRequest(req.body)
	if bad != nil {
		return *bad
	}
	if u := s.latestUpgrade(key); u != nil {
		switch st := u.status(req.now); st {
		case statusInProgress, u.outcome.UnknownStatus:
			return partnerError(http.StatusConflict, codeUpgradeInProgress, fmt.Sprintf(descUpgradeInProgress, u.id))
		case statusCompleted:
			return partnerError(http.StatusBadRequest, codeUpgradeCompleted, fmt.Sprintf(descUpgradeCompleted, u.id))
		}
	}
	o := s.Predict(key)
	if !o.Eligible {
		for _, r := range ineligibilities() {
			if r.code == o.CreateErrorCode {
				return partnerError(http.StatusForbidden, r.code, r.description)
			}
		}
		return partnerError(http.StatusForbidden, codeCannotProcessUpgrade, descCannotProcessUpgrade)
	}
	u := &upgrade{
		id:            uuid.NewString(),
		customerID:    key,
		productFamily: productFamilyAzure,
		createdAt:     req.now,
		outcome:       o,
	}
	s.upgrades = append(s.upgrades, u)
	s.upgradeByID[u.id] = u
	s.byCustomer[key] = append(s.byCustomer[key], u)
	s.recordCreate(key, key)
	return response{
		status: http.StatusAccepted,
		header: http.Header{"Location": {"productUpgrades/" + u.id}},
	}
}

// productUpgradeStatus serves POST /v1/productUpgrades/{upgradeId}/status.
func (s *Simulator) productUpgradeStatus(req *request) response {
	_, key, bad := decodeUpgradeRequest(req.body)
	if bad != nil {
		return *bad
	}
	u, ok := s.upgradeByID[strings.ToLower(req.params["upgradeId"])]
	if !ok {
		return partnerError(http.StatusNotFound, codeUpgradeNotFound, descUpgradeNotFound)
	}
	if u.customerID != key {
		desc := fmt.Sprintf(descUpgradeOtherCustomer, key)
		if mine := s.latestUpgrade(key); mine != nil {
			desc += fmt.Sprintf(" The customer is mapped to upgrade ID %s", mine.id)
		}
		return partnerError(http.StatusBadRequest, codeUpgradeOtherCustomer, desc)
	}

	status := u.status(req.now)
	out := productUpgradesStatus{
		ID:            u.id,
		ProductFamily: u.productFamily,
		Status:        status,
		LineItems:     make([]upgradesLineItem, len(u.outcome.LineItems)),
		Attributes:    resourceAttributes{ObjectType: "ProductUpgradesStatus"},
	}
	done := u.finishedAt().UTC().Format(upgradedDateLayout)
	for i, p := range u.outcome.LineItems {
		li := upgradesLineItem{
			SourceProduct: upgradeProduct{ID: p.SourceID, Name: p.SourceName},
			TargetProduct: upgradeProduct{ID: p.TargetID, Name: p.TargetName},
			Status:        statusInProgress,
		}
		if status == statusCompleted || status == statusFailed {
			li.Status = p.Status
			if p.Status == statusFailed {
				li.ErrorDetails = newErrorDetails(p.ErrorCode, p.ErrorMessage)
			} else {
				li.UpgradedDate = done
			}
		}
		out.LineItems[i] = li
	}
	if (status == statusFailed || status == statusCompleted) && u.outcome.ErrorCode != "" {
		out.ErrorDetails = newErrorDetails(u.outcome.ErrorCode, u.outcome.ErrorMessage)
	}
	return jsonResponse(http.StatusOK, out)
}
