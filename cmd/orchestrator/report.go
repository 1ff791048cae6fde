package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
)

func reportCmd(e *env) *cobra.Command {
	var batch, format, output string
	var failed bool
	cmd := &cobra.Command{
		Use:   "report --batch NAME [--format csv|json | --failed] [--output FILE]",
		Short: "Write a batch's outcome per customer and line item, or its failed items as an import file",
		Long: `Write the report of a batch: one row per line item / detail, one row for an item
without any (see README, Report). --format csv (default) or json (an array of objects
keyed by the CSV header names).

--failed writes the batch's failed items instead, in the import format of its operation
(one row per failed item, in file order, with the item's original inputs), to be fixed
and imported again as a new batch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(report.Formats(), format) {
				return fmt.Errorf("--format %q: supported formats: %s", format, strings.Join(report.Formats(), ", "))
			}
			if failed && format != report.FormatCSV {
				return fmt.Errorf("--failed writes the import format (CSV): leave out --format %s", format)
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
			return writeOutput(e.stdout, output, func(w io.Writer) error {
				if failed {
					return report.WriteFailedCSV(cmd.Context(), w, st, b)
				}
				return report.Write(cmd.Context(), w, st, b, format)
			})
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "batch name (required)")
	cmd.Flags().StringVar(&format, "format", report.FormatCSV, "output format: csv or json")
	cmd.Flags().BoolVar(&failed, "failed", false, "write the failed items in the import format of the batch's operation")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	_ = cmd.MarkFlagRequired("batch")
	return cmd
}

// writeOutput runs write on stdout, or on file path when it is not empty:
// the file is written beside the path and renamed into place once complete,
// so a failed report never leaves a truncated file behind.
func writeOutput(stdout io.Writer, path string, write func(io.Writer) error) (err error) {
	if path == "" || path == "-" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return errors.Join(err, os.Remove(f.Name()))
	}
	return nil
}
