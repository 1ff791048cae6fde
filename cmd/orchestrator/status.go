package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func statusCmd(e *env) *cobra.Command {
	var batch string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--batch NAME] [--json]",
		Short: "Show where a batch stands (state, items by status, throughput, ETA, errors), or list every batch",
		Long: `With --batch: the batch's state (and why), items by status, stuck items, pauses in
force, items needing attention (completed only in part, or with a status value the
service does not know), throughput (items settled per minute over the last 5 and
15 minutes), the estimated time to finish (open items at the 5-minute rate;
unknown when nothing settled lately), the age of the oldest item in progress,
the most frequent error codes, and the rate limits the governor learned below
their configured rate (Partner Center answered 429 although the budget allowed
the call; JSON: rate_limits, empty when none).

Without --batch: every batch, newest first, one line each (name, operation, state,
total, done %, attention, throughput, ETA), then the rate limits learned below
their configured rate (JSON: {"batches": [...], "rate_limits": [...]}).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, pool, err := e.connect(cmd.Context(), 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			st := store.New(pool)
			if !cmd.Flags().Changed("batch") {
				all, err := st.BatchesProgress(cmd.Context())
				if err != nil {
					return err
				}
				list := make([]report.Summary, 0, len(all))
				for _, bp := range all {
					list = append(list, report.NewSummary(bp))
				}
				rates, err := st.LearnedRates(cmd.Context())
				if err != nil {
					return err
				}
				below := report.LearnedBelow(rates)
				if asJSON {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(map[string]any{"batches": list, "rate_limits": below})
				}
				if err := report.WriteSummariesTable(e.stdout, list); err != nil {
					return err
				}
				if len(below) > 0 {
					fmt.Fprintln(e.stdout)
					tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
					report.WriteRateLimits(tw, below)
					return tw.Flush()
				}
				return nil
			}
			b, err := st.BatchByName(cmd.Context(), batch)
			if err != nil {
				return err
			}
			s, err := report.LoadStatus(cmd.Context(), st, b)
			if err != nil {
				return err
			}
			if asJSON {
				return s.WriteJSON(e.stdout)
			}
			return s.WriteTable(e.stdout)
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (without it: list every batch)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (fields batch, total, counts, stuck, done, throughput_per_minute_5m, eta_seconds, rate_limits, ...; without --batch: {\"batches\": [...], \"rate_limits\": [...]})")
	return cmd
}
