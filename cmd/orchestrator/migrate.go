package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/store"
)

func migrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the orchestrator's and River's database migrations (idempotent, safe to run concurrently)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, pool, err := e.connect(cmd.Context(), 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := store.Migrate(cmd.Context(), pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "schema at version %d (was %d); river migrations applied: %d\n",
				res.SchemaTo, res.SchemaFrom, len(res.RiverApplied))
			return nil
		},
	}
}
