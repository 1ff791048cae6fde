package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// QueueDispatch asks for a dispatcher run in tx, so that a batch written in
// the same transaction starts as soon as a worker is free instead of at the
// leader's next periodic run. It is a no-op while a dispatch job is already
// live (the periodic one included).
func QueueDispatch(ctx context.Context, tx pgx.Tx) error {
	client, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		return fmt.Errorf("queue dispatch: %w", err)
	}
	if _, err := client.InsertTx(ctx, tx, DispatchArgs{}, dispatchOpts()); err != nil {
		return fmt.Errorf("queue dispatch: %w", err)
	}
	return nil
}

// dispatchOpts keeps one live dispatch job at a time, however short the
// interval and whoever asks.
func dispatchOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: liveUnique().ByState}}
}
