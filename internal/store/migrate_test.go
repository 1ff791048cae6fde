package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// storetest databases arrive migrated; migrating again must change nothing.
	url := storetest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()

	res, err := store.Migrate(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, res.SchemaFrom, res.SchemaTo)
	require.Positive(t, res.SchemaTo)
	require.Empty(t, res.RiverApplied)

	// A blank database migrated by several "pods" at once.
	blank := storetest.NewDatabase(t)
	bpool, err := pgxpool.New(ctx, blank)
	require.NoError(t, err)
	defer bpool.Close()
	_, err = bpool.Exec(ctx, `drop schema public cascade; create schema public`)
	require.NoError(t, err)

	const pods = 4
	var wg sync.WaitGroup
	results := make([]store.MigrateResult, pods)
	errs := make([]error, pods)
	for i := range pods {
		wg.Go(func() {
			p, err := pgxpool.New(ctx, blank)
			if err != nil {
				errs[i] = err
				return
			}
			defer p.Close()
			results[i], errs[i] = store.Migrate(ctx, p)
		})
	}
	wg.Wait()
	applied := 0
	for i := range pods {
		require.NoError(t, errs[i], "pod %d", i)
		require.Equal(t, res.SchemaTo, results[i].SchemaTo)
		if len(results[i].RiverApplied) > 0 {
			applied++
		}
	}
	require.Equal(t, 1, applied, "exactly one pod applies River's migrations")

	var tables int
	require.NoError(t, bpool.QueryRow(ctx, `select count(*) from information_schema.tables
		where table_schema = 'public' and table_name in
		('batches','batch_items','upgrades','line_items','api_calls','item_events','river_job','river_leader')`).Scan(&tables))
	require.Equal(t, 8, tables)
}
