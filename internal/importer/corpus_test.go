package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// malformed is the corpus in testdata/malformed: each file, the operation
// forced (if any), and the problems its refusal must list first, in order
// (substrings of "line N[, column C]: message").
var malformed = []struct {
	file string
	op   upgrade.Operation
	want []string
	more int // problems counted beyond those listed
}{
	{"bom-then-garbage.csv", "", []string{"line 1: binary data (a NUL byte at byte 4); expected a UTF-8 CSV text file"}, 0},
	{"semicolon-delimiter.csv", "", []string{
		`line 1: unknown column "customer_id;product_family" (the file looks delimited by something other than commas)`,
		"line 1: missing column customer_id",
	}, 0},
	{"tab-delimiter.csv", "", []string{
		`line 1: unknown column "customer_id\tproduct_family" (the file looks delimited by something other than commas)`,
		"line 1: missing column customer_id",
	}, 0},
	{"missing-customer-id.csv", "", []string{"line 1: missing column customer_id"}, 0},
	{"unknown-column.csv", "", []string{`line 1: unknown column "region"; expected customer_id and optionally product_family`}, 0},
	{"quoted-newline.csv", "", []string{"line 3, column product_family: contains a line break (a quoted field spanning lines)"}, 0},
	{"over-long-field.csv", "", []string{"line 4, column product_family: is 300 bytes long; a field holds at most 256"}, 0},
	{"empty.csv", "", []string{"line 1: file is empty; expected a header such as"}, 0},
	{"header-only.csv", "", []string{"line 1: no customer rows after the header"}, 0},
	{"binary-nul.csv", "", []string{"line 3: binary data (a NUL byte at byte"}, 0},
	{"invalid-utf8.csv", "", []string{"line 4: binary data (invalid UTF-8 at byte"}, 0},
	{"bad-guid.csv", "", []string{`line 3, column customer_id: "not-a-guid" is not a GUID`}, 0},
	{"duplicate-rows.csv", "", []string{
		"line 5, column customer_id: duplicate of line 2 (customer c1958bc7-3284-4952-a257-de594ee64743, product family Azure)",
	}, 0},
	{"wrong-field-count.csv", "", []string{"line 3: has 3 fields, the header has 2"}, 0},
	{"unterminated-quote.csv", "", []string{`line 3: extraneous or missing " in quoted-field (broken quoting in the row starting here, found at line 4`}, 0},
	{"mixed-operations-header.csv", "", []string{
		"line 1: the header mixes columns of different operations: product_family (product_upgrade), subscription_id (subscription_upgrade or transition)",
	}, 0},
	{"ambiguous-subscription-header.csv", "", []string{
		"line 1: columns customer_id,subscription_id fit operations subscription_upgrade and transition: pass --operation",
	}, 0},
	{"bad-quantity.csv", "", []string{
		`line 2, column quantity: "lots" is not a whole number`,
		"line 3, column quantity: 0 is out of range 1..1000000",
	}, 0},
	{"bad-transition-source-and-promotion.csv", "", []string{
		`line 3, column from_catalog_item_id: "CFQ7TTC0LF8Q" is not a catalog item id; expected {productId}:{skuId}:{availabilityId}`,
		`line 4, column promotion_id: "Summer promo 20%" is not a promotion id`,
	}, 0},
	{"bad-upgrade-type.csv", "", []string{`line 3, column upgrade_type: "sometimes" is not one of upgrade_only, upgrade_with_license_transfer`}, 0},
	{"duplicate-subscriptions-crlf.csv", "", []string{
		"line 4, column subscription_id: duplicate of line 2 (customer c1958bc7-3284-4952-a257-de594ee64743, subscription a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70)",
	}, 0},
	{"long-line.csv", "", []string{"line 3: a line longer than 65536 bytes"}, 0},
	{"bad-guid-and-duplicate.csv", "", []string{
		`line 3, column customer_id: "nope" is not a GUID`,
		"line 5, column customer_id: duplicate of line 2",
		`line 6, column customer_id: "{5f0e8a7d-1c2b-4e3f-9a8b-7c6d5e4f3a2b}" is not a GUID`,
	}, 0},
	{"many-bad-rows.csv", "", []string{`line 2, column customer_id: "bad-0" is not a GUID`}, 50},
}

// batchRows counts what the database holds of any batch.
func batchRows(ctx context.Context, t *testing.T, pool *pgxpool.Pool) (batches, items int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(ctx, `select (select count(*) from batches), (select count(*) from batch_items)`).Scan(&batches, &items))
	return batches, items
}

func TestImportRefusesMalformedCorpus(t *testing.T) {
	t.Parallel()

	pool := storetest.NewPool(t)
	st := store.New(pool)
	ctx := context.Background()

	files, err := filepath.Glob("testdata/malformed/*.csv")
	require.NoError(t, err)
	require.Len(t, files, len(malformed), "every corpus file has a case")
	require.GreaterOrEqual(t, len(files), 15)

	for i, tt := range malformed {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "malformed", tt.file))
			require.NoError(t, err)
			defer f.Close()
			name := fmt.Sprintf("corpus-%d", i)
			_, err = Import(ctx, st, name, tt.file, f, Options{Operation: tt.op})
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "got %v", err)
			require.GreaterOrEqual(t, len(ve.Problems), len(tt.want), "problems: %v", ve.Problems)
			for j, w := range tt.want {
				require.Contains(t, ve.Problems[j].String(), w, "problems: %v", ve.Problems)
			}
			require.Equal(t, tt.more, ve.More)
			require.Contains(t, err.Error(), tt.file+":line ")
			require.Contains(t, err.Error(), "nothing imported")

			_, err = st.BatchByName(ctx, name)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
	b, items := batchRows(ctx, t, pool)
	require.Zero(t, b, "no batch is left behind")
	require.Zero(t, items, "no item is left behind")

	// Parse, the in-memory reader, refuses the same files the same way.
	for _, tt := range malformed {
		f, err := os.Open(filepath.Join("testdata", "malformed", tt.file))
		require.NoError(t, err)
		_, _, err = Parse(f, tt.file, tt.op)
		require.NoError(t, f.Close())
		var ve *ValidationError
		require.True(t, errors.As(err, &ve), "%s: got %v", tt.file, err)
		require.Contains(t, ve.Problems[0].String(), tt.want[0], tt.file)
	}
}

func TestImportValidCorpus(t *testing.T) {
	t.Parallel()

	pool := storetest.NewPool(t)
	st := store.New(pool)
	ctx := context.Background()

	for _, tt := range []struct {
		file  string
		op    upgrade.Operation
		count int
	}{
		{"bom.csv", upgrade.ProductUpgrade, 2},
		{"crlf.csv", upgrade.SubscriptionUpgrade, 2},
		{"bom-crlf-transition.csv", upgrade.Transition, 2},
	} {
		f, err := os.Open(filepath.Join("testdata", "valid", tt.file))
		require.NoError(t, err)
		b, err := Import(ctx, st, tt.file, tt.file, f, Options{})
		require.NoError(t, f.Close())
		require.NoError(t, err, tt.file)
		require.Equal(t, tt.op, b.Operation, tt.file)
		require.Equal(t, tt.count, b.ItemCount, tt.file)

		rows, err := pool.Query(ctx, `select line_number, customer_id::text, product_family, target_id
			from batch_items where batch_id = $1 order by line_number`, b.ID)
		require.NoError(t, err)
		type item struct {
			Line                   int
			Customer, Family, Targ string
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[item])
		require.NoError(t, err)
		require.Len(t, got, tt.count)
		require.Equal(t, 2, got[0].Line, "the header is line 1, BOM or not")
		require.Equal(t, "c1958bc7-3284-4952-a257-de594ee64743", got[0].Customer)
		require.NotContains(t, got[1].Targ, "\r", "CRLF does not leak into fields")
	}
	b, err := st.BatchByName(ctx, "crlf.csv")
	require.NoError(t, err)
	require.Equal(t, 2, b.ItemCount)
}

func TestImportMaxProblems(t *testing.T) {
	t.Parallel()

	pool := storetest.NewPool(t)
	st := store.New(pool)
	ctx := context.Background()

	// 3 bad rows and 3 duplicates: the first 4 by line are listed.
	in := "customer_id\n" + c1 + "\n" + c1 + "\nbad\n" + c1 + "\nbad\n" + c1 + "\nbad\n"
	_, err := Import(ctx, st, "max", "m.csv", strings.NewReader(in), Options{MaxProblems: 4})
	var ve *ValidationError
	require.True(t, errors.As(err, &ve), "got %v", err)
	require.Len(t, ve.Problems, 4)
	require.Equal(t, 2, ve.More)
	for i, line := range []int{3, 4, 5, 6} {
		require.Equal(t, line, ve.Problems[i].Line)
	}
	require.Contains(t, ve.Problems[0].Message, "duplicate of line 2")
	require.Contains(t, err.Error(), "... and 2 more")

	b, items := batchRows(ctx, t, pool)
	require.Zero(t, b)
	require.Zero(t, items)
}

func TestImportProgress(t *testing.T) {
	t.Parallel()

	pool := storetest.NewPool(t)
	st := store.New(pool)
	ctx := context.Background()

	const n = 2*ProgressEvery + 5
	var calls []int
	var read []int64
	progress := func(rows int, bytes int64) {
		calls = append(calls, rows)
		read = append(read, bytes)
	}
	b, err := Import(ctx, st, "progress", "gen.csv", generated(n), Options{Progress: progress})
	require.NoError(t, err)
	require.Equal(t, n, b.ItemCount)
	require.Equal(t, []int{ProgressEvery, 2 * ProgressEvery, n}, calls)
	require.Len(t, read, 3)
	require.Less(t, read[0], read[1])
	// At the end, every byte of the input: the header and n rows of 43 bytes.
	require.Equal(t, int64(len("customer_id,product_family\n")+n*43), read[2])
}

// generated streams a product-upgrade CSV of n distinct customers without
// holding it in memory.
func generated(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "customer_id,product_family\n")
		for i := range n {
			if _, err := fmt.Fprintf(pw, "%08x-0000-4000-8000-%012x,Azure\n", i, i); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	return pr
}
