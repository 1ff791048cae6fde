package main

import (
	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/demo"
)

func demoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a 200-customer product-upgrade batch end to end against the built-in simulator",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			cfg.Log.Level = "warn"
			return demo.Run(cmd.Context(), demo.Options{
				DatabaseURL: e.getenv(config.EnvDatabaseURL),
				Stdout:      e.stdout,
				Logger:      e.logger(cfg),
				Version:     version(),
			})
		},
	}
}
