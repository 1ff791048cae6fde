package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/ratelimit"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// ProductUpgrader is the part of Partner Center the product-upgrade jobs
// call; *partnercenter.ProductUpgradesService implements it.
type ProductUpgrader interface {
	Eligibility(ctx context.Context, call partnercenter.Call, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesEligibility, *partnercenter.Response, error)
	Create(ctx context.Context, call partnercenter.Call, req partnercenter.ProductUpgradesRequest) (string, *partnercenter.Response, error)
	Status(ctx context.Context, call partnercenter.Call, upgradeID string, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesStatus, *partnercenter.Response, error)
}

// SubscriptionUpgrader is the part of Partner Center the subscription-upgrade
// job calls; *partnercenter.SubscriptionUpgradesService implements it.
type SubscriptionUpgrader interface {
	List(ctx context.Context, call partnercenter.Call, customerID, subscriptionID string) ([]partnercenter.Upgrade, *partnercenter.Response, error)
	Perform(ctx context.Context, call partnercenter.Call, customerID, subscriptionID string, up partnercenter.Upgrade) (*partnercenter.UpgradeResult, *partnercenter.Response, error)
}

// Transitioner is the part of Partner Center the transition jobs call;
// *partnercenter.TransitionsService implements it.
type Transitioner interface {
	Eligibilities(ctx context.Context, call partnercenter.Call, customerID, subscriptionID, eligibilityType string) ([]partnercenter.TransitionEligibility, *partnercenter.Response, error)
	Create(ctx context.Context, call partnercenter.Call, customerID, subscriptionID string, t partnercenter.Transition) (*partnercenter.Transition, *partnercenter.Response, error)
	List(ctx context.Context, call partnercenter.Call, customerID, subscriptionID, operationID string) ([]partnercenter.Transition, *partnercenter.Response, error)
}

// Deps is what the workers need.
type Deps struct {
	Store         *store.Store
	Upgrades      ProductUpgrader
	Subscriptions SubscriptionUpgrader
	Transitions   Transitioner
	Logger        *slog.Logger
	// Governor shares Partner Center's rate budget with every replica.
	Governor *ratelimit.Governor
	// Worker names this process in item leases, item events and api_calls.
	Worker string
	// Alive, when set, says whether this process may call Partner Center:
	// nil while its heartbeat is current (heartbeat.Beater.Alive). Every
	// call is fenced by it and by the item's lease (see fence).
	Alive func() error
	// LeaseTTL is how long a job may hold an item's lease; longer than any
	// job runs (workers.job_timeout), so a lease only lapses when its
	// holder died.
	LeaseTTL time.Duration

	// Polls decides when work in progress is polled (PollPlanner).
	Polls *PollPlanner
	// StuckAfter is how long work may stay in progress at Partner Center
	// before its item is flagged stuck and no longer polled.
	StuckAfter time.Duration
	// StallAfter is how long an open item may sit unchanged without a live
	// job before reconcile re-queues it.
	StallAfter time.Duration
	// ReconcileInterval is how often the leader runs reconcile.
	ReconcileInterval time.Duration
	// MaxRequeues is how often reconcile re-queues an item whose job
	// vanished, per generation; the next time the item fails with
	// internal_error instead.
	MaxRequeues int
	// DispatchInterval is how often the leader queues pending items, and
	// QueueDepth how many dispatched items may wait for a worker at once.
	DispatchInterval time.Duration
	QueueDepth       int
	// Retry is the backoff of failed jobs (workers.retry_base,
	// workers.retry_max), which an item whose calls fail transiently
	// waits by too.
	Retry RetryPolicy
	// Outage says when transient failures place an outage hold and how it
	// probes.
	Outage store.OutagePolicy
	// AuthPause is how long all work pauses after Partner Center refused
	// our credentials, before jobs try again.
	AuthPause time.Duration
	// Halt is when a batch halts by itself because too many items failed.
	Halt store.HaltPolicy
	// Observe, when set, hears about every item status change a job makes
	// (for metrics).
	Observe func(op upgrade.Operation, to upgrade.Status, errorCode string)
	// ObservePoisoned, when set, hears about every item reconcile failed
	// because its job kept vanishing (for metrics).
	ObservePoisoned func(op upgrade.Operation)
	// UnknownStatusPolls is how many polls may find a status value the
	// service does not know before the item is flagged for attention and
	// stuck; 0 never flags it.
	UnknownStatusPolls int
	// ObserveAttention, when set, hears about every item a job flags for
	// attention, with the item's error code (for metrics).
	ObserveAttention func(op upgrade.Operation, errorCode string)
	// ObserveRecordFailure, when set, hears about every Partner Center call
	// whose api_calls row could not be written (for metrics).
	ObserveRecordFailure func(operation string)
}
