package simulator

import (
	"encoding/json"
	"net/http"
)

// Partner Center error codes and descriptions, as listed in the Partner
// Center REST error code table.
const (
	codeAccessDenied = 400
	descAccessDenied = "Access denied"

	codeNotFound = 1000
	descNotFound = "Not found"

	codeTokenMissing = 800001
	descTokenMissing = "Partner Token missing in request context"

	codeInvalidInput = 800002
	descInvalidInput = "Invalid request input"

	codeUnexpectedError = 800003
	descUnexpectedError = "Unexpected service error"

	codeSuspendedSubscriptions = 900105
	descSuspendedSubscriptions = "You have one or more Azure subscriptions in the suspended state. Suspended Azure subscriptions can't be transitioned to the Azure plan"

	codeUpgradeNotFound = 900106
	descUpgradeNotFound = "No upgrade request was found"

	codeCatalogItemNotFound = 900107
	descCatalogItemNotFound = "Can't process Azure upgrade since Azure catalog item wasn't found"

	codeNoAzureSubscriptions = 900108
	descNoAzureSubscriptions = "Can't process Azure upgrade since customer has no Azure subscriptions."

	codeUpgradeInProgress = 900109
	descUpgradeInProgress = "This upgrade isn't allowed as original upgrade %s is in progress"

	codeUpgradeCompleted = 900110
	descUpgradeCompleted = "Can't process the upgrade request for completed upgrade %s"

	codeUpgradeOtherCustomer = 900111
	descUpgradeOtherCustomer = "The upgrade ID provided doesn't belong to customer %s."

	codeInvalidCustomerID = 900118
	descInvalidCustomerID = "Invalid Customer ID"

	codePartnerSharedServices = 900119
	descPartnerSharedServices = "Can't process Azure upgrade for Azure Partner Shared Services"

	codeCannotProcessUpgrade = 900120
	descCannotProcessUpgrade = "Can't process Azure upgrade"

	codeRecentlyPurchased = 900130
	descRecentlyPurchased = "One or more Azure subscriptions were purchased recently, these subscriptions can't be transitioned at this time. Try again later"

	codeAppOnlyNotSupported = 900329
	descAppOnlyNotSupported = "This resource does not support application-only authentication."

	codeSubscriptionNotActive = 800012
	descSubscriptionNotActive = "Subscription is not active"

	codePendingOperation = 900278
	descPendingOperation = "There is a pending operation on subscription %s. Retry after 24 hours."

	codeTargetSameAsSource = 900259
	descTargetSameAsSource = "Target subscription can't be the same as the source subscription"

	codeTargetCatalogItemMismatch = 900260
	descTargetCatalogItemMismatch = "Target subscription %s must have the same CatalogItemId as requested (%s)"

	codeTargetTermShorter = 900267
	descTargetTermShorter = "Target subscription %s term is shorter than the source subscription term"

	// No code is documented for these; the HTTP status is used as the code.
	codeMethodNotAllowed = http.StatusMethodNotAllowed
	codeRequestIDReused  = http.StatusConflict

	codeServiceUnavailable = http.StatusServiceUnavailable
	descServiceUnavailable = "The service is temporarily unavailable. Try again later."
)

// errorSource is the component named in every error body.
const errorSource = "PartnerFD"

// apiFault is the standard Partner Center error body. The code is sent as a
// JSON number, as every documented sample does (the schema table calls it a
// string).
type apiFault struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
	Data        []any  `json:"data"`
	Source      string `json:"source"`
}

// partnerError returns a Partner Center error response.
func partnerError(status, code int, description string) response {
	body, _ := json.Marshal(apiFault{Code: code, Description: description, Data: []any{}, Source: errorSource})
	return response{status: status, header: jsonHeader(), body: body}
}

// jsonResponse returns a response with v encoded as its JSON body.
func jsonResponse(status int, v any) response {
	body, err := json.Marshal(v)
	if err != nil {
		return partnerError(http.StatusInternalServerError, codeUnexpectedError, descUnexpectedError)
	}
	return response{status: status, header: jsonHeader(), body: body}
}

func jsonHeader() http.Header {
	return http.Header{"Content-Type": {"application/json; charset=utf-8"}}
}
