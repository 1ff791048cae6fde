package main

import (
	"net"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/service"
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
			return svc.Run(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve HTTP on (default from server.listen, :8080)")
	return cmd
}
