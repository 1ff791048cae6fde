package report_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestEveryFormatHasAContentType(t *testing.T) {
	t.Parallel()
	for _, f := range report.Formats() {
		require.NotEmpty(t, report.ContentType(f), f)
	}
	require.Equal(t, "text/csv; charset=utf-8", report.ContentType(report.FormatCSV))
	require.Equal(t, "application/json", report.ContentType(report.FormatJSON))
	require.Empty(t, report.ContentType("xml"))
}

// rowsSource serves fixed report rows.
type rowsSource []store.ReportRow

func (r rowsSource) ReportRows(_ context.Context, _ int64, fn func(store.ReportRow) error) error {
	for _, row := range r {
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

func TestEveryHeaderEndsWithTheItemColumnsAndLicenseRowsNameTheUser(t *testing.T) {
	t.Parallel()
	base := strings.Join(report.Header(), ",")
	require.Equal(t, base+",attention,item_error_code,item_error_message", strings.Join(report.HeaderFor(upgrade.ProductUpgrade), ","))
	require.Equal(t, base+",subscription_id,target_offer_id,upgrade_type,detail_type,detail_subject,attention,item_error_code,item_error_message,detail_name,detail_email",
		strings.Join(report.HeaderFor(upgrade.SubscriptionUpgrade), ","))
	require.Equal(t, base+",subscription_id,target_catalog_item_id,transition_type,event_name,event_status,event_time,attention,item_error_code,item_error_message",
		strings.Join(report.HeaderFor(upgrade.Transition), ","))

	src := rowsSource{{
		CustomerID: "c1", Status: upgrade.StatusCompleted, SubscriptionID: "s1", DetailKind: store.DetailLicenseError, DetailName: "u1",
		ErrorCode: "60000", ErrorMessage: "conflict; source: PartnerApiServiceControllers",
		DetailUserName: "Ada Lovelace", DetailEmail: "ada@example.com",
		Attention: true, ItemErrorCode: "license_errors", ItemErrorMessage: "upgraded with 1 license fault",
	}}
	batch := store.Batch{Name: "b", Operation: upgrade.SubscriptionUpgrade}
	var csvOut, jsonOut bytes.Buffer
	require.NoError(t, report.WriteCSV(context.Background(), &csvOut, src, batch))
	require.NoError(t, report.WriteJSON(context.Background(), &jsonOut, src, batch))
	recs, err := csv.NewReader(&csvOut).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	row := map[string]string{}
	for i, h := range recs[0] {
		row[h] = recs[1][i]
	}
	var objs []map[string]string
	require.NoError(t, json.Unmarshal(jsonOut.Bytes(), &objs))
	require.Equal(t, []map[string]string{row}, objs, "JSON has the CSV's keys and values")
	for k, v := range map[string]string{
		"status": "completed", "error_code": "60000", "detail_subject": "u1", "detail_name": "Ada Lovelace", "detail_email": "ada@example.com",
		"attention": "true", "item_error_code": "license_errors", "item_error_message": "upgraded with 1 license fault",
	} {
		require.Equal(t, v, row[k], k)
	}

	csvOut.Reset()
	require.NoError(t, report.WriteCSV(context.Background(), &csvOut, rowsSource{{CustomerID: "c2", Status: upgrade.StatusFailed, ErrorCode: "900120", ItemErrorCode: "900120"}},
		store.Batch{Name: "p", Operation: upgrade.ProductUpgrade}))
	recs, err = csv.NewReader(&csvOut).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"false", "900120", ""}, recs[1][len(recs[1])-3:])
}
