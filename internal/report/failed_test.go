package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// importFile imports csvText as batch name and returns the batch and its
// item ids in file order.
func importFile(t *testing.T, st *store.Store, name, csvText string) (store.Batch, []int64) {
	t.Helper()
	ctx := context.Background()
	b, err := importer.Import(ctx, st, name, name+".csv", bytes.NewBufferString(csvText), importer.Options{})
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	return b, ids
}

func fail(t *testing.T, st *store.Store, id int64, code string) {
	t.Helper()
	require.NoError(t, st.TransitionItem(context.Background(), id, store.Transition{
		From: upgrade.StatusPending, To: upgrade.StatusFailed, ErrorCode: code, ErrorMessage: "failed for the test",
	}))
}

func TestFailedExportParsesAsExactlyTheFailedItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))

	for _, tc := range []struct {
		name   string
		file   string
		failed []int // indexes of the items to fail
		op     upgrade.Operation
	}{
		{
			name: "product",
			op:   upgrade.ProductUpgrade,
			file: "customer_id,product_family\n" +
				"c1958bc7-3284-4952-a257-de594ee64743,Azure\n" +
				"0b1c2d3e-3284-4952-a257-de594ee64743,\n" +
				"1b1c2d3e-3284-4952-a257-de594ee64743,azure\n",
			failed: []int{0, 2},
		},
		{
			name: "subscription",
			op:   upgrade.SubscriptionUpgrade,
			file: "Customer_ID,subscription_id,upgrade_type,target_offer_id\r\n" +
				"c1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,upgrade_only,\r\n" +
				"c1958bc7-3284-4952-a257-de594ee64743,b2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,UPGRADE_WITH_LICENSE_TRANSFER,OFFER-1\r\n" +
				"0b1c2d3e-3284-4952-a257-de594ee64743,c2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,,\r\n",
			failed: []int{1, 2},
		},
		{
			name: "transition",
			op:   upgrade.Transition,
			file: "customer_id,subscription_id,to_catalog_item_id,transition_type,quantity,to_subscription_id,term_duration,billing_cycle,promotion_id,from_catalog_item_id\n" +
				"c1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X,transition_only,5,,p1y,monthly,39NFJQT1Q5KL:0001:39NFJQT1Q5MD,CFQ7TTC0LCHC:0002:CFQ7TTC0K5QV\n" +
				"c1958bc7-3284-4952-a257-de594ee64743,b2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,,,,,,,,\n" +
				"0b1c2d3e-3284-4952-a257-de594ee64743,c2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X,transition_with_license_transfer,12,d2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,P3Y,annual,,CFQ7TTC0LCHC:0002:CFQ7TTC0K5QV\n" +
				"1b1c2d3e-3284-4952-a257-de594ee64743,e2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,,,,,,,PROMO-2,\n",
			failed: []int{0, 2, 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ids := importFile(t, st, tc.name, tc.file)
			_, imported, err := importer.Parse(bytes.NewBufferString(tc.file), "in.csv", tc.op)
			require.NoError(t, err)
			require.Len(t, imported, len(ids))
			var want []store.NewItem
			for _, i := range tc.failed {
				fail(t, st, ids[i], "E1")
				it := imported[i]
				it.LineNumber = 0 // the export has its own lines
				want = append(want, it)
			}

			var buf bytes.Buffer
			require.NoError(t, report.WriteFailedCSV(ctx, &buf, st, b))
			header, err := csv.NewReader(bytes.NewReader(buf.Bytes())).Read()
			require.NoError(t, err)
			required, optional := importer.Columns(tc.op)
			require.Equal(t, append(required, optional...), header)
			if tc.op == upgrade.Transition {
				require.Equal(t, []string{"promotion_id", "from_catalog_item_id"}, header[len(header)-2:],
					"the transition inputs added later come last, so older exports keep their column positions")
			}

			op, got, err := importer.Parse(bytes.NewReader(buf.Bytes()), "failed.csv", "")
			require.NoError(t, err, "the export parses as an import file, its operation detected:\n%s", buf.String())
			require.Equal(t, tc.op, op)
			for i := range got {
				require.Equal(t, i+2, got[i].LineNumber, "one row per failed item, in file order")
				got[i].LineNumber = 0
			}
			require.Equal(t, want, got)

			// And it imports again as a new batch.
			again, err := importer.Import(ctx, st, tc.name+"-again", "failed.csv", bytes.NewReader(buf.Bytes()), importer.Options{})
			require.NoError(t, err)
			require.Equal(t, len(tc.failed), again.ItemCount)
		})
	}
}

func TestFailedExportOfABatchWithoutFailuresIsTheHeader(t *testing.T) {
	t.Parallel()
	st := store.New(storetest.NewPool(t))
	b, _ := importFile(t, st, "ok", "customer_id\nc1958bc7-3284-4952-a257-de594ee64743\n")
	var buf bytes.Buffer
	require.NoError(t, report.WriteFailedCSV(context.Background(), &buf, st, b))
	require.Equal(t, "customer_id,product_family\n", buf.String())
}

func TestReportJSONHasOneObjectPerCSVRowKeyedByTheHeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	b, ids := importFile(t, st, "tr",
		"customer_id,subscription_id,to_catalog_item_id\n"+
			"c1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X\n"+
			"0b1c2d3e-3284-4952-a257-de594ee64743,c2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,\n")
	fail(t, st, ids[1], "quote\"and,comma")

	var csvBuf, jsonBuf bytes.Buffer
	require.NoError(t, report.Write(ctx, &csvBuf, st, b, report.FormatCSV))
	require.NoError(t, report.Write(ctx, &jsonBuf, st, b, report.FormatJSON))
	records, err := csv.NewReader(&csvBuf).ReadAll()
	require.NoError(t, err)
	header := report.HeaderFor(upgrade.Transition)
	require.Equal(t, header, records[0])

	var rows []map[string]string
	require.NoError(t, jsonUnmarshal(jsonBuf.Bytes(), &rows), jsonBuf.String())
	require.Len(t, rows, len(records)-1)
	for i, rec := range records[1:] {
		require.Len(t, rows[i], len(header))
		for j, h := range header {
			require.Equal(t, rec[j], rows[i][h], "row %d column %s", i, h)
		}
	}
	require.Equal(t, "quote\"and,comma", rows[1]["error_code"])
	require.Error(t, report.Write(ctx, &bytes.Buffer{}, st, b, "xml"))
}
