package importer

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/examples"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestExamplesParse(t *testing.T) {
	t.Parallel()

	want := map[string]upgrade.Operation{
		examples.ProductUpgradeCSV: upgrade.ProductUpgrade,
		"subscription-upgrade.csv": upgrade.SubscriptionUpgrade,
		"transition.csv":           upgrade.Transition,
	}
	for file, wantOp := range want {
		f, err := examples.FS.Open(file)
		require.NoError(t, err, file)
		op, items, err := Parse(f, file, "")
		require.NoError(t, f.Close())
		require.NoError(t, err, file)
		require.Equal(t, wantOp, op, file)
		require.NotEmpty(t, items, file)
	}
	names, err := fs.Glob(examples.FS, "*.csv")
	require.NoError(t, err)
	require.Len(t, names, len(want), "every example is checked")
}

func TestImport(t *testing.T) {
	t.Parallel()

	pool := storetest.NewPool(t)
	st := store.New(pool)
	ctx := context.Background()
	const in = "customer_id,subscription_id,to_catalog_item_id\n" +
		c1 + "," + s1 + ",\n" +
		c1 + "," + s2 + "," + catalogItem + "\n" +
		c2 + "," + s3 + ",\n"

	canaryFlags := func(t *testing.T, batchID int64) []bool {
		rows, err := pool.Query(ctx, `select canary from batch_items where batch_id = $1 order by line_number`, batchID)
		require.NoError(t, err)
		flags, err := pgx.CollectRows(rows, pgx.RowTo[bool])
		require.NoError(t, err)
		return flags
	}

	t.Run("all items wait for the dispatcher", func(t *testing.T) {
		b, err := Import(ctx, st, "all", "t.csv", strings.NewReader(in), Options{})
		require.NoError(t, err)
		require.Equal(t, upgrade.Transition, b.Operation)
		require.Equal(t, 3, b.ItemCount)
		require.False(t, b.DryRun)
		require.Equal(t, upgrade.BatchRunning, b.Status)
		require.Equal(t, []bool{false, false, false}, canaryFlags(t, b.ID))
	})

	t.Run("canary marks only the first N", func(t *testing.T) {
		b, err := Import(ctx, st, "canary", "t.csv", strings.NewReader(in), Options{DryRun: true, CanarySize: 2})
		require.NoError(t, err)
		require.Equal(t, upgrade.BatchCanary, b.Status)
		require.True(t, b.DryRun)
		require.Equal(t, 2, b.CanarySize)
		require.Equal(t, []bool{true, true, false}, canaryFlags(t, b.ID))
	})

	t.Run("canary larger than the batch marks all", func(t *testing.T) {
		b, err := Import(ctx, st, "big canary", "t.csv", strings.NewReader(in), Options{CanarySize: 10})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, true}, canaryFlags(t, b.ID))
	})

	t.Run("forced operation", func(t *testing.T) {
		b, err := Import(ctx, st, "forced", "t.csv",
			strings.NewReader("customer_id,subscription_id\n"+c1+","+s1+"\n"), Options{Operation: upgrade.SubscriptionUpgrade})
		require.NoError(t, err)
		require.Equal(t, upgrade.SubscriptionUpgrade, b.Operation)
	})

	t.Run("refusals write nothing", func(t *testing.T) {
		_, err := Import(ctx, st, "neg", "t.csv", strings.NewReader(in), Options{CanarySize: -1})
		require.ErrorContains(t, err, "canary size -1")
		_, err = Import(ctx, st, " ", "t.csv", strings.NewReader(in), Options{})
		require.ErrorContains(t, err, "batch name")
		_, err = Import(ctx, st, "ambiguous", "t.csv", strings.NewReader("customer_id,subscription_id\n"+c1+","+s1+"\n"), Options{})
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		for _, name := range []string{"neg", "ambiguous"} {
			_, err = st.BatchByName(ctx, name)
			require.ErrorIs(t, err, store.ErrNotFound, name)
		}

		_, err = Import(ctx, st, "all", "t.csv", strings.NewReader(in), Options{})
		require.ErrorIs(t, err, store.ErrBatchExists)
	})
}
