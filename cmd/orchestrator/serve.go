package main

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func serveCmd(e *env) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Run the workers and serve /metrics, /healthz and /readyz",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Server.Listen = listen
			}
			logger := e.logger(cfg)
			logger.Info("starting", "config", cfg)
			pool, err := service.Connect(cmd.Context(), cfg.DatabaseURL, int32(cfg.DatabaseMaxConns))
			if err != nil {
				return err
			}
			defer pool.Close()
			svc, err := service.New(cmd.Context(), cfg, pool, logger, version())
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.Server.Listen)
			if err != nil {
				return err
			}
			err = svc.Run(cmd.Context(), ln)
			if errors.Is(err, store.ErrDeclaredDead) {
				// Declared dead: exit now, before River records outcomes of
				// jobs that other processes run now; Kubernetes restarts the
				// container as a new process.
				fmt.Fprintln(e.stderr, "orchestrator:", err)
				os.Exit(1)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve HTTP on (default from server.listen, :8080)")
	return cmd
}
