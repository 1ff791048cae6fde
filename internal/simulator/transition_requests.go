package simulator

// TransitionRequest is what a transition POST that created a transition
// asked for, as the simulator received it.
type TransitionRequest struct {
	// OperationID is the id the simulator gave the transition.
	OperationID       string
	FromCatalogItemID string
	// FromSubscriptionID is the request's, or the path's subscription when
	// the request had none.
	FromSubscriptionID string
	ToCatalogItemID    string
	ToSubscriptionID   string
	Quantity           int
	TermDuration       string
	BillingCycle       string
	// TransitionType is lower-cased.
	TransitionType string
	PromotionID    string
}

// TransitionRequests returns the requests that created transitions of
// subscriptionID of customerID (ids compared case-insensitively), oldest
// first. Rejected POSTs, replayed responses and faults before the work are
// not included.
func (s *Simulator) TransitionRequests(customerID, subscriptionID string) []TransitionRequest {
	pair := subscriptionPair(customerID, subscriptionID)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TransitionRequest
	for _, t := range s.transitions[pair] {
		b := t.body
		out = append(out, TransitionRequest{
			OperationID: b.OperationID, FromCatalogItemID: b.FromCatalogItemID, FromSubscriptionID: b.FromSubscriptionID,
			ToCatalogItemID: b.ToCatalogItemID, ToSubscriptionID: b.ToSubscriptionID, Quantity: b.Quantity,
			TermDuration: b.TermDuration, BillingCycle: b.BillingCycle, TransitionType: b.TransitionType, PromotionID: b.PromotionID,
		})
	}
	return out
}
