package report_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

func TestHistoryTextShowsUnansweredCallsAndEventsOnOneLineEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	const customer, sub = "c1958bc7-3284-4952-a257-de594ee64743", "a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70"
	b, ids := importFile(t, st, "tr", "customer_id,subscription_id,to_catalog_item_id\n"+customer+","+sub+",CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X\n")

	require.NoError(t, st.RecordAPICall(ctx, store.APICall{
		BatchID: b.ID, ItemID: ids[0], Operation: "transition_create", RequestID: "req-1", CorrelationID: "corr-1",
		RequestCV: "sentCV.0", Duration: 30 * time.Second, ErrorCode: "transport",
		ErrorMessage: "partnercenter: transition_create: transport:\ncontext deadline exceeded", Worker: "w1",
	}))
	require.NoError(t, st.AdoptUpgrade(ctx, ids[0], 0, "op-1"))
	require.NoError(t, st.TransitionItem(ctx, ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusInProgress, Reason: "adopted existing transition", Worker: "w2"}))
	require.NoError(t, st.ReplaceDetails(ctx, ids[0], 0, []store.Detail{
		{Kind: store.DetailEvent, Name: "ConvertSubscription", Status: "Completed"},
		{Kind: store.DetailEvent, Name: "TransferLicenses", Status: "Failed", Code: "800036", Message: "licenses\tcould not\nbe moved"},
	}))

	h, err := report.LoadHistory(ctx, st, b, customer, sub)
	require.NoError(t, err)
	require.Equal(t, []string{customer + "/" + sub}, h.Keys())
	var out bytes.Buffer
	require.NoError(t, report.WriteHistoryText(&out, h))
	text := out.String()
	require.Contains(t, text, "customer "+customer+" subscription "+sub+" (batch tr, line 2): in_progress")
	require.Contains(t, text, "transition_create no answer 30.000s ms-requestid req-1 ms-correlationid corr-1 ms-cv (sent) sentCV.0; error transport: partnercenter: transition_create: transport: context deadline exceeded")
	require.Contains(t, text, "pending -> in_progress: adopted existing transition")
	require.Contains(t, text, "details:\n  1. event ConvertSubscription Completed\n  2. event TransferLicenses Failed; error 800036: licenses could not be moved\n")

	_, err = report.LoadHistory(ctx, st, b, "0b1c2d3e-3284-4952-a257-de594ee64743", "")
	require.True(t, errors.Is(err, store.ErrNotFound), "%v", err)
	require.Contains(t, err.Error(), `batch "tr" has no item for customer 0b1c2d3e-3284-4952-a257-de594ee64743`)
}
