package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func historyCmd(e *env) *cobra.Command {
	var batch, subscription string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history --batch NAME CUSTOMER_ID [--subscription ID]",
		Short: "Show an item's whole history: every status change, every Partner Center call and each attempt's results",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			customer, err := upgrade.ParseGUID(args[0])
			if err != nil {
				return fmt.Errorf("CUSTOMER_ID: %w", err)
			}
			if subscription != "" {
				if subscription, err = upgrade.ParseGUID(subscription); err != nil {
					return fmt.Errorf("--subscription: %w", err)
				}
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
			h, err := report.LoadHistory(cmd.Context(), st, b, customer, subscription)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(h)
			}
			return report.WriteHistoryText(e.stdout, h)
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (required)")
	cmd.Flags().StringVar(&subscription, "subscription", "", "subscription id, for subscription upgrades and transitions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, keyed by customer id (customer_id/subscription_id for subscription work)")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}
