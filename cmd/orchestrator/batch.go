package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func batchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "batch",
		Short: "Operator controls: pause, resume, cancel a batch, or retry its failed items",
	}
	act := func(use, short string, fn func(*control.Controller, context.Context, string) (control.Result, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return e.control(cmd.Context(), func(ctl *control.Controller) (control.Result, error) {
					return fn(ctl, cmd.Context(), args[0])
				})
			},
		}
	}
	cmd.AddCommand(
		act("pause", "Stop new work on a batch (calls in flight finish; nothing is polled until resume)", (*control.Controller).Pause),
		act("resume", "Resume a paused, halted or canary batch: queue every open item (stuck items are polled again)", (*control.Controller).Resume),
		act("cancel", "Cancel a batch's pending items; items Partner Center already works on are followed to the end", (*control.Controller).Cancel),
		retryCmd(e),
	)
	return cmd
}

func retryCmd(e *env) *cobra.Command {
	var failed bool
	var code string
	cmd := &cobra.Command{
		Use:   "retry NAME --failed [--error-code CODE]",
		Short: "Re-run only a batch's failed items (all, or those with CODE), keeping their earlier attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !failed {
				return fmt.Errorf("retry: only failed items can be retried; pass --failed")
			}
			return e.control(cmd.Context(), func(ctl *control.Controller) (control.Result, error) {
				return ctl.RetryFailed(cmd.Context(), args[0], code)
			})
		},
	}
	cmd.Flags().BoolVar(&failed, "failed", false, "retry the failed items (required)")
	cmd.Flags().StringVar(&code, "error-code", "", "retry only failed items with this error code")
	return cmd
}

// control runs one operator control and prints what it did.
func (e *env) control(ctx context.Context, fn func(*control.Controller) (control.Result, error)) error {
	cfg, pool, err := e.connect(ctx, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	rc, err := service.InsertClient(pool, e.logger(cfg))
	if err != nil {
		return err
	}
	res, err := fn(control.New(store.New(pool), jobs.NewEnqueuer(rc), "cli"))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s: %s -> %s (%d item(s))\n", res.Batch, res.From, res.To, res.Items)
	return nil
}
