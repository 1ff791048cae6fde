package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

// simulateFlags are the simulate command's settings; those given
// explicitly override the scenario file's values.
type simulateFlags struct {
	listen, scenario                  string
	seed                              int64
	ineligible, fail                  float64
	minDur, maxDur, tokenTTL          time.Duration
	speedup, share500, share503, rset float64
}

func simulateCmd(e *env) *cobra.Command {
	var fl simulateFlags
	def := simulator.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "simulate --listen ADDR [--scenario FILE]",
		Short: "Serve the built-in Partner Center simulator (token endpoint, product upgrades, subscription upgrades, transitions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			opts, err := simulateOptions(cmd.Flags().Changed, fl)
			if err != nil {
				return err
			}
			sim, err := simulator.New(opts)
			if err != nil {
				return err
			}
			return simulator.ListenAndServe(cmd.Context(), fl.listen, sim, e.logger(cfg))
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.listen, "listen", "127.0.0.1:8081", "address to serve on")
	f.StringVar(&fl.scenario, "scenario", "", "scenario file (YAML, see docs/simulator.md); flags given explicitly override it")
	f.Int64Var(&fl.seed, "seed", def.Seed, "seed of the deterministic outcomes")
	f.Float64Var(&fl.ineligible, "ineligible-share", def.IneligibleShare, "share of customers that are not eligible")
	f.Float64Var(&fl.fail, "fail-share", def.FailShare, "share of eligible customers whose upgrade fails")
	f.DurationVar(&fl.minDur, "min-duration", def.MinDuration, "shortest time an upgrade stays in progress")
	f.DurationVar(&fl.maxDur, "max-duration", def.MaxDuration, "longest time an upgrade stays in progress")
	f.DurationVar(&fl.tokenTTL, "token-ttl", def.TokenTTL, "lifetime of issued access tokens")
	f.Float64Var(&fl.speedup, "clock-speedup", 1, "simulated time runs this many times faster (lifecycles, token expiry)")
	f.Float64Var(&fl.share500, "fault-500-share", 0, "share of Partner Center requests answered 500")
	f.Float64Var(&fl.share503, "fault-503-share", 0, "share of Partner Center requests answered 503")
	f.Float64Var(&fl.rset, "fault-reset-share", 0, "share of Partner Center requests whose connection is reset")
	return cmd
}

// simulateOptions builds the options: the scenario file (or the default
// scenario: DefaultOptions with the documented rate limits), then every
// flag given explicitly.
func simulateOptions(set func(name string) bool, fl simulateFlags) (simulator.Options, error) {
	opts := simulator.DefaultOptions()
	opts.RateLimits = simulator.DefaultRateLimits()
	if fl.scenario != "" {
		var err error
		if opts, err = simulator.LoadScenario(fl.scenario); err != nil {
			return simulator.Options{}, err
		}
	}
	if set("seed") {
		opts.Seed = fl.seed
	}
	if set("ineligible-share") {
		opts.IneligibleShare = fl.ineligible
	}
	if set("fail-share") {
		opts.FailShare = fl.fail
	}
	if set("min-duration") {
		opts.MinDuration = fl.minDur
	}
	if set("max-duration") {
		opts.MaxDuration = fl.maxDur
	}
	if set("token-ttl") {
		opts.TokenTTL = fl.tokenTTL
	}
	if set("clock-speedup") {
		opts.ClockSpeedup = fl.speedup
	}
	if set("fault-500-share") || set("fault-503-share") || set("fault-reset-share") {
		faults := make(map[string]simulator.Fault, len(opts.Faults)+1)
		for k, v := range opts.Faults {
			faults[k] = v
		}
		all := faults["*"]
		if set("fault-500-share") {
			all.Share500 = fl.share500
		}
		if set("fault-503-share") {
			all.Share503 = fl.share503
		}
		if set("fault-reset-share") {
			all.ResetShare = fl.rset
		}
		faults["*"] = all
		opts.Faults = faults
	}
	return opts, nil
}
