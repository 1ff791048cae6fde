package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func reportCmd(e *env) *cobra.Command {
	var batch, format string
	cmd := &cobra.Command{
		Use:   "report --batch NAME --format csv",
		Short: "Write a batch's outcome per customer and line item",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "csv" {
				return fmt.Errorf("--format %q: supported formats: csv", format)
			}
			_, pool, err := e.connect(cmd.Context(), 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			st := store.New(pool)
			b, err := st.BatchByName(cmd.Context(), batch)
			if err != nil {
				return err
			}
			return report.WriteCSV(cmd.Context(), e.stdout, st, b)
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (required)")
	cmd.Flags().StringVar(&format, "format", "csv", "output format: csv")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}
