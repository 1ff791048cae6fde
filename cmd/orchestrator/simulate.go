package main

import (
	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func simulateCmd(e *env) *cobra.Command {
	var listen string
	opts := simulator.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "simulate --listen ADDR",
		Short: "Serve the built-in Partner Center simulator (token endpoint and product upgrades)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			sim, err := simulator.New(opts)
			if err != nil {
				return err
			}
			return simulator.ListenAndServe(cmd.Context(), listen, sim, e.logger(cfg))
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address to serve on")
	f.Int64Var(&opts.Seed, "seed", opts.Seed, "seed of the deterministic outcomes")
	f.Float64Var(&opts.IneligibleShare, "ineligible-share", opts.IneligibleShare, "share of customers that are not eligible")
	f.Float64Var(&opts.FailShare, "fail-share", opts.FailShare, "share of eligible customers whose upgrade fails")
	f.DurationVar(&opts.MinDuration, "min-duration", opts.MinDuration, "shortest time an upgrade stays in progress")
	f.DurationVar(&opts.MaxDuration, "max-duration", opts.MaxDuration, "longest time an upgrade stays in progress")
	return cmd
}
