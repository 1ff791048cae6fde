package partnercenter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ProductUpgradesService moves a customer's legacy Azure subscriptions
// (MS-AZR-0145P) to the Azure plan. All three endpoints require app+user
// credentials; an app-only token gets 403 with code 900329.
//
// Each method returns a non-nil *Response whenever it sent a request; the
// *Response is nil only when the arguments were rejected before sending
// (ErrInvalidArgument).
type ProductUpgradesService service

// Eligibility reports whether the customer can be upgraded to the product
// family and, when an upgrade already exists, its ID.
//
//	POST /v1/productUpgrades/eligibility
func (s *ProductUpgradesService) Eligibility(ctx context.Context, call Call, req ProductUpgradesRequest) (*ProductUpgradesEligibility, *Response, error) {
	const op = OpProductUpgradeEligibility
	r, err := s.newRequest(ctx, op, "productUpgrades/eligibility", call, req)
	if err != nil {
		return nil, nil, err
	}
	var out ProductUpgradesEligibility
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return &out, resp, nil
}

// Create starts an upgrade and returns its ID, taken from the Location
// header of the 202 Accepted answer ("productUpgrades/{upgradeId}"; absolute
// URLs and a trailing slash are tolerated). If the answer is a success
// without a usable Location, Create returns an error wrapping ErrNoLocation:
// the upgrade may nonetheless exist, and Eligibility reports its ID. An
// upgrade already running for the customer is a 409 with code 900109
// (IsConflict).
//
//	POST /v1/productUpgrades
func (s *ProductUpgradesService) Create(ctx context.Context, call Call, req ProductUpgradesRequest) (string, *Response, error) {
	const op = OpProductUpgradeCreate
	r, err := s.newRequest(ctx, op, "productUpgrades", call, req)
	if err != nil {
		return "", nil, err
	}
	var loc upgradeLocation
	resp, err := s.client.do(r, op, &loc)
	if err != nil {
		return "", resp, err
	}
	return loc.id, resp, nil
}

// Status returns the progress of an upgrade. The request body names the
// customer and family again, and the method is POST although it only reads.
//
//	POST /v1/productUpgrades/{upgradeId}/status
func (s *ProductUpgradesService) Status(ctx context.Context, call Call, upgradeID string, req ProductUpgradesRequest) (*ProductUpgradesStatus, *Response, error) {
	const op = OpProductUpgradeStatus
	upgradeID = strings.TrimSpace(upgradeID)
	if upgradeID == "" {
		return nil, nil, fmt.Errorf("partnercenter: %s: %w: empty upgrade id", op, ErrInvalidArgument)
	}
	r, err := s.newRequest(ctx, op, "productUpgrades/"+url.PathEscape(upgradeID)+"/status", call, req)
	if err != nil {
		return nil, nil, err
	}
	var out ProductUpgradesStatus
	resp, err := s.client.do(r, op, &out)
	if err != nil {
		return nil, resp, err
	}
	return &out, resp, nil
}

// newRequest validates and completes req, then builds a POST to relPath.
func (s *ProductUpgradesService) newRequest(ctx context.Context, op, relPath string, call Call, req ProductUpgradesRequest) (*http.Request, error) {
	req.CustomerID = strings.TrimSpace(req.CustomerID)
	req.ProductFamily = strings.TrimSpace(req.ProductFamily)
	if req.CustomerID == "" {
		return nil, fmt.Errorf("partnercenter: %s: %w: empty customer id", op, ErrInvalidArgument)
	}
	if req.ProductFamily == "" {
		req.ProductFamily = ProductFamilyAzure
	}
	return s.client.newRequest(ctx, http.MethodPost, relPath, req, call)
}

// upgradeLocation reads the upgrade ID from the Location header of a create
// answer.
type upgradeLocation struct {
	id string
}

func (l *upgradeLocation) readResponse(r *http.Response) error {
	id, ok := upgradeIDFromLocation(r.Header.Get("Location"))
	if !ok {
		return ErrNoLocation
	}
	l.id = id
	return nil
}

// upgradeIDFromLocation returns the last non-empty path segment of loc,
// which may be relative ("productUpgrades/{id}") or absolute.
func upgradeIDFromLocation(loc string) (string, bool) {
	loc = strings.TrimSpace(loc)
	if loc == "" {
		return "", false
	}
	p := loc
	if u, err := url.Parse(loc); err == nil {
		p = u.Path
	}
	segments := strings.Split(p, "/")
	for i := len(segments) - 1; i >= 0; i-- {
		seg := strings.TrimSpace(segments[i])
		if seg == "" {
			continue
		}
		if strings.EqualFold(seg, "productUpgrades") {
			return "", false
		}
		return seg, true
	}
	return "", false
}
