package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/api"
	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

const token = "test-api-token-0123456789"

// recorder is an Enqueuer that remembers what it was asked to queue.
type recorder struct{ items []int64 }

func (r *recorder) EnqueueFollows(_ context.Context, _ pgx.Tx, _ upgrade.Operation, itemIDs []int64) error {
	r.items = append(r.items, itemIDs...)
	return nil
}

func setup(t *testing.T) (*httptest.Server, *store.Store, *recorder) {
	t.Helper()
	h, st, rec := newHandler(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, st, rec
}

// newHandler returns the API over a new database holding batch b1 (two
// pending product upgrades).
func newHandler(t *testing.T) (*api.Handler, *store.Store, *recorder) {
	t.Helper()
	ctx := context.Background()
	st := store.New(storetest.NewPool(t))
	require.NoError(t, st.InTx(ctx, func(_ pgx.Tx, st *store.Store) error {
		_, err := st.CreateBatch(ctx, store.NewBatch{Name: "b1", Operation: upgrade.ProductUpgrade, CorrelationID: "6f1c2f4e-8b8e-4a55-9d7c-1d2e3f4a5b6c"},
			store.Items([]store.NewItem{
				{LineNumber: 2, CustomerID: "c1958bc7-3284-4952-a257-de594ee64743", ProductFamily: "Azure"},
				{LineNumber: 3, CustomerID: "0b1c2d3e-3284-4952-a257-de594ee64743", ProductFamily: "Azure"},
			}))
		return err
	}))
	rec := &recorder{}
	return api.New(st, control.New(st, rec, "api"), nil, []string{token}, slog.New(slog.DiscardHandler)), st, rec
}

func do(t *testing.T, method, url, bearer string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil) //nolint:noctx // test
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestAPIRefusesMissingAndWrongTokens(t *testing.T) {
	t.Parallel()
	srv, _, _ := setup(t)
	for _, tc := range []struct{ method, path, bearer string }{
		{"GET", "/api/v1/batches", ""},
		{"GET", "/api/v1/batches/b1", "wrong-token-0123456789"},
		{"POST", "/api/v1/batches/b1/pause", ""},
		{"POST", "/api/v1/batches/b1/cancel", token[:len(token)-1]},
	} {
		code, body := do(t, tc.method, srv.URL+tc.path, tc.bearer)
		require.Equal(t, http.StatusUnauthorized, code, "%s %s", tc.method, tc.path)
		require.Contains(t, body, "bearer token")
	}
}

func TestAPIControlsABatch(t *testing.T) {
	t.Parallel()
	srv, st, rec := setup(t)

	code, body := do(t, "GET", srv.URL+"/api/v1/batches/b1", token)
	require.Equal(t, http.StatusOK, code, body)
	var s report.Status
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.Equal(t, "running", s.State)
	require.Equal(t, 2, s.Counts["pending"])

	code, body = do(t, "POST", srv.URL+"/api/v1/batches/b1/pause", token)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"to": "paused"`)
	code, body = do(t, "POST", srv.URL+"/api/v1/batches/b1/pause", token)
	require.Equal(t, http.StatusConflict, code, "pausing a paused batch is refused: %s", body)

	code, body = do(t, "POST", srv.URL+"/api/v1/batches/b1/resume", token)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"items": 2`, "both pending items run again")
	require.Empty(t, rec.items, "pending items are queued by the dispatcher; only items in progress get a follow job here")

	code, _ = do(t, "POST", srv.URL+"/api/v1/batches/b1/retry", token)
	require.Equal(t, http.StatusBadRequest, code, "retry needs ?failed=true")
	code, body = do(t, "POST", srv.URL+"/api/v1/batches/b1/retry?failed=true", token)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"items": 0`)

	code, body = do(t, "POST", srv.URL+"/api/v1/batches/b1/cancel", token)
	require.Equal(t, http.StatusOK, code, body)
	counts, err := st.StatusCounts(context.Background(), 1)
	require.NoError(t, err)
	require.Equal(t, 2, counts[upgrade.StatusCancelled])

	code, _ = do(t, "GET", srv.URL+"/api/v1/batches/nope", token)
	require.Equal(t, http.StatusNotFound, code)
	code, body = do(t, "GET", srv.URL+"/api/v1/batches", token)
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.Contains(body, `"batch": "b1"`), body)
}

func TestAPIListsEveryBatchWithTheStatusOfEach(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()
	r := send(t, "POST", srv.URL+"/api/v1/batches?name=tr", token, "text/csv", goodTransitions)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	b, err := st.BatchByName(ctx, "b1")
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	require.NoError(t, st.TransitionItem(ctx, ids[0], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusFailed, ErrorCode: "E1"}))
	require.NoError(t, st.PlaceHold(ctx, store.HoldAuth, "credentials refused", time.Now().Add(time.Hour)))

	code, body := do(t, "GET", srv.URL+"/api/v1/batches", token)
	require.Equal(t, http.StatusOK, code, body)
	var list struct {
		Batches []json.RawMessage `json:"batches"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list), body)
	require.Len(t, list.Batches, 2)
	for i, name := range []string{"tr", "b1"} {
		var s report.Status
		require.NoError(t, json.Unmarshal(list.Batches[i], &s))
		require.Equal(t, name, s.Batch, "newest first")
		require.Len(t, s.Holds, 1, "every batch shows the hold")
		code, one := do(t, "GET", srv.URL+"/api/v1/batches/"+name, token)
		require.Equal(t, http.StatusOK, code, one)
		require.JSONEq(t, one, string(list.Batches[i]), "the list holds each batch's own status")
	}
	require.Contains(t, string(list.Batches[1]), `"code": "E1"`)
}
