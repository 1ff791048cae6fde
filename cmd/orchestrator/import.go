package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/jobs"
	"github.com/pcupgrade/orchestrator/internal/service"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func importCmd(e *env) *cobra.Command {
	var batch, operation string
	var dryRun bool
	var canary, maxProblems int
	cmd := &cobra.Command{
		Use:   "import --batch NAME [--operation OP] [--dry-run | --canary N] FILE",
		Short: "Import a CSV of customers as a new batch; all rows or none (see README for the three formats)",
		Long: `Import a CSV as a new batch. The operation (product_upgrade, subscription_upgrade or
transition) is read from the header, or forced with --operation. The file is refused
whole, with every problem's line and column, if any row is wrong.

--dry-run   checks eligibility only and records what would happen (items end eligible,
            ineligible, or failed when no target can be chosen); nothing is changed.
--canary N  runs the first N items only; the batch then waits for 'batch resume NAME'.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := importer.Options{DryRun: dryRun, CanarySize: canary, MaxProblems: maxProblems}
			if maxProblems < 1 {
				return fmt.Errorf("--max-problems: must be at least 1")
			}
			if operation != "" {
				op, err := upgrade.ParseOperation(operation)
				if err != nil {
					return fmt.Errorf("--operation: %w", err)
				}
				opts.Operation = op
			}
			if dryRun && canary > 0 {
				return fmt.Errorf("--dry-run and --canary cannot be combined: a dry run changes nothing")
			}
			if canary < 0 {
				return fmt.Errorf("--canary: must be a positive number of items")
			}
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
			opts.Queued = jobs.NewEnqueuer(rc).QueueDispatch
			size := int64(-1) // unknown: a spinner
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
			start := time.Now()
			var rows atomic.Int64
			var bar *progressbar.ProgressBar
			if isTerminal(e.stdout) {
				bar = progressbar.NewOptions64(size,
					progressbar.OptionSetWriter(e.stdout),
					progressbar.OptionShowBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionSetElapsedTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowDescriptionAtLineEnd())
			}
			opts.Progress = func(n int, read int64) {
				rows.Store(int64(n))
				if bar != nil {
					bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", n, rate(n, time.Since(start))))
					_ = bar.Set64(read)
				}
			}
			b, err := importer.Import(cmd.Context(), store.New(pool), batch, args[0], f, opts)
			elapsed := time.Since(start)
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(e.stdout)
			}
			if err != nil {
				return err
			}
			n := int(rows.Load())
			fmt.Fprintf(e.stdout, "read %d rows in %.2fs (%.0f rows/s)\n", n, elapsed.Seconds(), rate(n, elapsed))
			unit := "customers"
			if b.Operation != upgrade.ProductUpgrade {
				unit = "subscriptions"
			}
			switch {
			case b.DryRun:
				fmt.Fprintf(e.stdout, "imported batch %s (%s, dry run): %d %s queued for eligibility checks only; see `orchestrator report --batch %s`\n",
					b.Name, b.Operation, b.ItemCount, unit, b.Name)
			case b.CanarySize > 0:
				fmt.Fprintf(e.stdout, "imported batch %s (%s, canary): %d %s, the first %d queued; then `orchestrator batch resume %s`\n",
					b.Name, b.Operation, b.ItemCount, unit, min(b.CanarySize, b.ItemCount), b.Name)
			default:
				fmt.Fprintf(e.stdout, "imported batch %s (%s): %d %s queued\n", b.Name, b.Operation, b.ItemCount, unit)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "name of the new batch (required, unique)")
	cmd.Flags().StringVar(&operation, "operation", "", "product_upgrade, subscription_upgrade or transition (default: from the header)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check eligibility only and report what would happen")
	cmd.Flags().IntVar(&canary, "canary", 0, "run only the first N items, then wait for `batch resume`")
	cmd.Flags().IntVar(&maxProblems, "max-problems", importer.DefaultMaxProblems, "list at most N problems of a refused file (the rest are counted)")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}

// isTerminal tells whether w is a terminal (a progress bar is shown there,
// a one-line summary elsewhere).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
