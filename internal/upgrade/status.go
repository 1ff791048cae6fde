// Package upgrade holds the orchestrator's domain types: operations, item
// and batch statuses and the rules for moving between them. It imports no
// driver and no HTTP code.
package upgrade

import "fmt"

// Status is the lifecycle status of one batch item. The values are a
// contract shared with reports, metrics and external tools: never rename.
type Status string

// Item statuses.
const (
	StatusPending    Status = "pending"
	StatusEligible   Status = "eligible" // dry runs only: the item would go ahead
	StatusIneligible Status = "ineligible"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
)

// Statuses returns every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusPending, StatusEligible, StatusIneligible, StatusInProgress, StatusCompleted, StatusFailed, StatusCancelled}
}

// Final reports whether no further work happens to an item in this status
// (until an operator retries a failed item).
func (s Status) Final() bool {
	switch s {
	case StatusEligible, StatusIneligible, StatusCompleted, StatusFailed, StatusCancelled:
		return true
	default:
		return false
	}
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, v := range Statuses() {
		if s == v {
			return true
		}
	}
	return false
}

// TransitionError reports a status change the state machine forbids.
type TransitionError struct {
	From, To Status
}

// Error implements error.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("item status cannot change from %s to %s", e.From, e.To)
}

// CheckTransition returns a *TransitionError unless an item may move from
// one status to the other. This is the single definition of the item state
// machine:
//
//	pending     -> in_progress | eligible | ineligible | failed | cancelled
//	in_progress -> completed | failed | cancelled
//	failed      -> pending   (an operator's retry; it starts a new generation)
//
// Every other status is final.
func CheckTransition(from, to Status) error {
	allowed := false
	switch from {
	case StatusPending:
		allowed = to == StatusInProgress || to == StatusEligible || to == StatusIneligible ||
			to == StatusFailed || to == StatusCancelled
	case StatusInProgress:
		allowed = to == StatusCompleted || to == StatusFailed || to == StatusCancelled
	case StatusFailed:
		allowed = to == StatusPending
	}
	if !allowed || !to.Valid() {
		return &TransitionError{From: from, To: to}
	}
	return nil
}
