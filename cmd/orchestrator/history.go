package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/store"
)

func historyCmd(e *env) *cobra.Command {
	var batch, subscription string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history --batch NAME CUSTOMER_ID [--subscription ID]",
		Short: "Show an item's whole history: every status change and every Partner Center call, all attempts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			ids, err := st.FindItems(cmd.Context(), b.ID, args[0], subscription)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("batch %q has no item for customer %s %s", batch, args[0], subscription)
			}
			all := map[int64][]store.HistoryEntry{}
			for _, id := range ids {
				if all[id], err = st.ItemHistory(cmd.Context(), id); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			for _, id := range ids {
				fmt.Fprintf(tw, "item %d\t\t\t\t\n", id)
				fmt.Fprintln(tw, "TIME\tGEN\tWHAT\tDETAIL\tWORKER")
				for _, h := range all[id] {
					what, detail := "status", fmt.Sprintf("%s -> %s: %s", h.From, h.To, h.Reason)
					if h.Operation != "" {
						what = "call"
						detail = fmt.Sprintf("%s http %d request %s %.3fs", h.Operation, h.HTTPStatus, h.RequestID, h.Seconds)
					}
					if h.ErrorCode != "" {
						detail += " error " + h.ErrorCode
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", h.At.UTC().Format(time.RFC3339Nano), h.Generation, what, detail, h.Worker)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (required)")
	cmd.Flags().StringVar(&subscription, "subscription", "", "subscription id, for subscription upgrades and transitions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}
