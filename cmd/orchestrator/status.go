package main

import (
	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func statusCmd(e *env) *cobra.Command {
	var batch string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --batch NAME [--json]",
		Short: "Show where a batch stands: items by status and whether all are final",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			counts, err := st.StatusCounts(cmd.Context(), b.ID)
			if err != nil {
				return err
			}
			s := report.NewStatus(b, counts)
			if asJSON {
				return s.WriteJSON(e.stdout)
			}
			return s.WriteTable(e.stdout)
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (fields batch, total, counts, done, ...)")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}
