package upgrade

import "fmt"

// BatchStatus is the status of a whole batch. The values are a contract
// shared with reports, metrics and external tools: never rename.
type BatchStatus string

// Batch statuses.
const (
	// BatchRunning: every open item is worked.
	BatchRunning BatchStatus = "running"
	// BatchCanary: only the canary items (the first N of the file) are
	// worked; when they are all final the batch pauses for an operator.
	BatchCanary BatchStatus = "canary"
	// BatchPaused: an operator (or the end of a canary) stopped new work;
	// calls in flight finish, nothing new starts until resume.
	BatchPaused BatchStatus = "paused"
	// BatchHalted: like paused, but set by the service because too many
	// items failed.
	BatchHalted BatchStatus = "halted"
	// BatchCancelled: pending items were cancelled; items Partner Center is
	// already working on are still followed to their final state.
	BatchCancelled BatchStatus = "cancelled"
	// BatchCompleted: every item is final.
	BatchCompleted BatchStatus = "completed"
)

// BatchStatuses returns every batch status.
func BatchStatuses() []BatchStatus {
	return []BatchStatus{BatchRunning, BatchCanary, BatchPaused, BatchHalted, BatchCancelled, BatchCompleted}
}

// Starts reports whether items of a batch in this status may start new
// work. canaryItem says whether the item is one of the batch's canary items.
func (s BatchStatus) Starts(canaryItem bool) bool {
	return s == BatchRunning || (s == BatchCanary && canaryItem)
}

// Follows reports whether work already started at Partner Center (an item
// in progress) is still followed in this status. Pausing stops polling too,
// so a paused batch spends no budget; cancelling does not, because Partner
// Center cannot cancel an upgrade that has begun.
func (s BatchStatus) Follows(canaryItem bool) bool {
	return s.Starts(canaryItem) || s == BatchCancelled
}

// BatchTransitionError reports a batch status change that is not allowed.
type BatchTransitionError struct {
	From, To BatchStatus
}

// Error implements error.
func (e *BatchTransitionError) Error() string {
	return fmt.Sprintf("batch status cannot change from %s to %s", e.From, e.To)
}

// CheckBatchTransition returns a *BatchTransitionError unless a batch may
// move from one status to the other:
//
//	running   -> paused | halted | cancelled | completed
//	canary    -> running | paused | halted | cancelled | completed
//	paused    -> running | cancelled
//	halted    -> running | cancelled
//	completed -> running   (failed items retried)
//	cancelled -> (final; its open items are still followed)
func CheckBatchTransition(from, to BatchStatus) error {
	allowed := false
	switch from {
	case BatchRunning:
		allowed = to == BatchPaused || to == BatchHalted || to == BatchCancelled || to == BatchCompleted
	case BatchCanary:
		allowed = to == BatchRunning || to == BatchPaused || to == BatchHalted || to == BatchCancelled || to == BatchCompleted
	case BatchPaused, BatchHalted:
		allowed = to == BatchRunning || to == BatchCancelled
	case BatchCompleted:
		allowed = to == BatchRunning
	}
	if !allowed {
		return &BatchTransitionError{From: from, To: to}
	}
	return nil
}
