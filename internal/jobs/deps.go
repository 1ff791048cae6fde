package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// ProductUpgrader is the part of Partner Center the jobs call;
// *partnercenter.ProductUpgradesService implements it.
type ProductUpgrader interface {
	Eligibility(ctx context.Context, call partnercenter.Call, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesEligibility, *partnercenter.Response, error)
	Create(ctx context.Context, call partnercenter.Call, req partnercenter.ProductUpgradesRequest) (string, *partnercenter.Response, error)
	Status(ctx context.Context, call partnercenter.Call, upgradeID string, req partnercenter.ProductUpgradesRequest) (*partnercenter.ProductUpgradesStatus, *partnercenter.Response, error)
}

// Deps is what the workers need.
type Deps struct {
	Store    *store.Store
	Upgrades ProductUpgrader
	Logger   *slog.Logger
	// Gate holds back operations Partner Center throttled.
	Gate *Gate

	// PollInitial is the first wait before polling a new upgrade; waits
	// double up to PollMax, with ±20% jitter.
	PollInitial, PollMax time.Duration
	// StallAfter is how long an open item may sit unchanged without a live
	// job before reconcile re-queues it.
	StallAfter time.Duration
	// ReconcileInterval is how often the leader runs reconcile.
	ReconcileInterval time.Duration
}
