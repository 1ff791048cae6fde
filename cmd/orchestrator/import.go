package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func importCmd(e *env) *cobra.Command {
	var batch string
	cmd := &cobra.Command{
		Use:   "import --batch NAME FILE",
		Short: "Import a CSV of customers (customer_id[,product_family]) as a new batch; all rows or none",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			pool, err := service.Connect(cmd.Context(), cfg.DatabaseURL, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			rc, err := service.InsertClient(pool, e.logger(cfg))
			if err != nil {
				return err
			}
			b, err := importer.Import(cmd.Context(), store.New(pool), jobs.NewEnqueuer(rc), batch, args[0], f)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "imported batch %s: %d customers queued\n", b.Name, b.ItemCount)
			return nil
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "name of the new batch (required, unique)")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}
