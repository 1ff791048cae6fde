package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/api"
	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

type response struct {
	code   int
	header http.Header
	body   string
}

func send(t *testing.T, method, url, bearer, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body)) //nolint:noctx // test
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

const goodTransitions = "customer_id,subscription_id,to_catalog_item_id,transition_type,quantity\n" +
	"c1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X,transition_only,5\n" +
	"c1958bc7-3284-4952-a257-de594ee64743,b2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,,,\n" +
	"0b1c2d3e-3284-4952-a257-de594ee64743,c2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70,,transition_with_license_transfer,\n"

func TestAPIImportsAGoodFile(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()

	r := send(t, "POST", srv.URL+"/api/v1/batches?name=wave%201&canary=2&filename=wave1.csv", token, "text/csv", goodTransitions)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Equal(t, "/api/v1/batches/wave%201", r.header.Get("Location"))
	var s report.Status
	require.NoError(t, json.Unmarshal([]byte(r.body), &s), r.body)
	require.Equal(t, "wave 1", s.Batch)
	require.Equal(t, "transition", s.Operation)
	require.Equal(t, "canary", s.State)
	require.Equal(t, 3, s.Total)
	require.Equal(t, 3, s.Counts["pending"])
	require.False(t, s.Done)

	b, err := st.BatchByName(ctx, "wave 1")
	require.NoError(t, err)
	require.Equal(t, "wave1.csv", b.SourceFile)
	require.Equal(t, 2, b.CanarySize)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, ids, 3)
	it, err := st.Item(ctx, ids[0])
	require.NoError(t, err)
	require.Equal(t, "a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70", it.SubscriptionID)
	require.Equal(t, 5, it.Options.Quantity)

	// The Location answers with the same status.
	r = send(t, "GET", srv.URL+"/api/v1/batches/wave%201", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)

	// Forced operation and dry run, file name defaulting to the body.
	r = send(t, "POST", srv.URL+"/api/v1/batches?name=dry&operation=subscription_upgrade&dry_run=true", token, "",
		"customer_id,subscription_id\nc1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70\n")
	require.Equal(t, http.StatusCreated, r.code, r.body)
	b, err = st.BatchByName(ctx, "dry")
	require.NoError(t, err)
	require.True(t, b.DryRun)
	require.Equal(t, upgrade.SubscriptionUpgrade, b.Operation)
	require.Equal(t, "request body", b.SourceFile)

	// The name is taken.
	r = send(t, "POST", srv.URL+"/api/v1/batches?name=dry&operation=subscription_upgrade", token, "text/csv",
		"customer_id,subscription_id\nc1958bc7-3284-4952-a257-de594ee64743,a2bd4f3c-6d7e-4f18-9a01-2b3c4d5e6f70\n")
	require.Equal(t, http.StatusConflict, r.code, r.body)
	require.Contains(t, r.body, "already exists")
}

func TestAPIRefusesABadFileWithProblemsByLine(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	bad := "customer_id,product_family\n" +
		"c1958bc7-3284-4952-a257-de594ee64743,Azure\n" +
		"not-a-guid,Azure\n" +
		"0b1c2d3e-3284-4952-a257-de594ee64743,Azure\n" +
		"c1958bc7-3284-4952-a257-de594ee64743,Azure\n"
	r := send(t, "POST", srv.URL+"/api/v1/batches?name=bad&filename=bad.csv", token, "text/csv", bad)
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	var body struct {
		Error    string `json:"error"`
		File     string `json:"file"`
		Problems []struct {
			Line    int    `json:"line"`
			Column  string `json:"column"`
			Message string `json:"message"`
		} `json:"problems"`
		More *int `json:"more"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), r.body)
	require.Equal(t, "bad.csv", body.File)
	require.Contains(t, body.Error, "2 problem(s), nothing imported")
	require.NotNil(t, body.More)
	require.Zero(t, *body.More)
	require.Len(t, body.Problems, 2)
	require.Equal(t, 3, body.Problems[0].Line)
	require.Equal(t, "customer_id", body.Problems[0].Column)
	require.Contains(t, body.Problems[0].Message, "not a GUID")
	require.Equal(t, 5, body.Problems[1].Line)
	require.Contains(t, body.Problems[1].Message, "duplicate of line 2")

	_, err := st.BatchByName(context.Background(), "bad")
	require.True(t, errors.Is(err, store.ErrNotFound), "nothing is created: %v", err)

	// A wrong header, an empty body.
	r = send(t, "POST", srv.URL+"/api/v1/batches?name=bad", token, "text/csv", "customer;product_family\nx;y\n")
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	require.Contains(t, r.body, `"line": 1`)
	require.Contains(t, r.body, `"file": "request body"`)
	r = send(t, "POST", srv.URL+"/api/v1/batches?name=bad", token, "text/csv", "")
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	require.Contains(t, r.body, "file is empty")
	_, err = st.BatchByName(context.Background(), "bad")
	require.True(t, errors.Is(err, store.ErrNotFound), "nothing is created: %v", err)
}

func TestAPIRefusesBadImportParameters(t *testing.T) {
	t.Parallel()
	srv, _, _ := setup(t)
	for _, q := range []string{
		"",                              // no name
		"?name=%20",                     // blank name
		"?name=x%01y",                   // control character
		"?name=x&operation=migrate",     // unknown operation
		"?name=x&dry_run=perhaps",       // not a boolean
		"?name=x&canary=-1",             // negative canary
		"?name=x&canary=two",            // not a number
		"?name=x&dry_run=true&canary=5", // both
		"?name=" + strings.Repeat("n", 201),
	} {
		r := send(t, "POST", srv.URL+"/api/v1/batches"+q, token, "text/csv", goodTransitions)
		require.Equal(t, http.StatusBadRequest, r.code, "%s: %s", q, r.body)
		require.Contains(t, r.body, `"error"`)
	}
	r := send(t, "POST", srv.URL+"/api/v1/batches?name=form", token, "multipart/form-data; boundary=x", goodTransitions)
	require.Equal(t, http.StatusUnsupportedMediaType, r.code, r.body)
}

func TestAPIImportAndReportRefuseMissingAndWrongTokens(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	for _, bearer := range []string{"", "wrong-token-0123456789"} {
		r := send(t, "POST", srv.URL+"/api/v1/batches?name=sneaky", bearer, "text/csv", goodTransitions)
		require.Equal(t, http.StatusUnauthorized, r.code, r.body)
		require.Equal(t, `Bearer realm="orchestrator"`, r.header.Get("WWW-Authenticate"))
		for _, q := range []string{"", "?format=json", "?failed=true"} {
			r = send(t, "GET", srv.URL+"/api/v1/batches/b1/report"+q, bearer, "", "")
			require.Equal(t, http.StatusUnauthorized, r.code, r.body)
			require.NotContains(t, r.body, "customer_id")
		}
	}
	_, err := st.BatchByName(context.Background(), "sneaky")
	require.True(t, errors.Is(err, store.ErrNotFound), "nothing is created without a token: %v", err)
}

func TestAPIDownloadsTheReportAsCSVAndJSON(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()
	b, err := st.BatchByName(ctx, "b1")
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	require.NoError(t, st.TransitionItem(ctx, ids[1], store.Transition{
		From: upgrade.StatusPending, To: upgrade.StatusIneligible, ErrorCode: "900329", ErrorMessage: "not eligible, \"quoted\"",
	}))

	var want bytes.Buffer
	require.NoError(t, report.WriteCSV(ctx, &want, st, b))
	for _, q := range []string{"", "?format=csv"} {
		r := send(t, "GET", srv.URL+"/api/v1/batches/b1/report"+q, token, "", "")
		require.Equal(t, http.StatusOK, r.code, r.body)
		require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
		require.Equal(t, `attachment; filename=b1-report.csv`, r.header.Get("Content-Disposition"))
		require.Equal(t, want.String(), r.body, "exactly what `orchestrator report` writes")
		records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		require.NoError(t, err)
		require.Equal(t, report.HeaderFor(upgrade.ProductUpgrade), records[0])
		require.Len(t, records, 3, "header and one row per item")
	}

	r := send(t, "GET", srv.URL+"/api/v1/batches/b1/report?format=json", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename=b1-report.json`, r.header.Get("Content-Disposition"))
	var rows []map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.body), &rows), r.body)
	require.Len(t, rows, 2)
	for _, row := range rows {
		require.Len(t, row, len(report.HeaderFor(upgrade.ProductUpgrade)))
		for _, h := range report.HeaderFor(upgrade.ProductUpgrade) {
			require.Contains(t, row, h)
		}
	}
	require.Equal(t, "c1958bc7-3284-4952-a257-de594ee64743", rows[0]["customer_id"])
	require.Equal(t, "pending", rows[0]["status"])
	require.Equal(t, "ineligible", rows[1]["status"])
	require.Equal(t, "not eligible, \"quoted\"", rows[1]["error_message"])

	for _, q := range []string{"?format=xml", "?failed=maybe", "?failed=true&format=json"} {
		r = send(t, "GET", srv.URL+"/api/v1/batches/b1/report"+q, token, "", "")
		require.Equal(t, http.StatusBadRequest, r.code, "%s: %s", q, r.body)
	}
	r = send(t, "GET", srv.URL+"/api/v1/batches/b1/report?format=xml", token, "", "")
	require.Contains(t, r.body, `format \"xml\": supported formats: csv, json`)
	r = send(t, "GET", srv.URL+"/api/v1/batches/nope/report", token, "", "")
	require.Equal(t, http.StatusNotFound, r.code, r.body)
}

func TestAPIExportsFailedItemsInTheImportFormat(t *testing.T) {
	t.Parallel()
	srv, st, _ := setup(t)
	ctx := context.Background()
	r := send(t, "POST", srv.URL+"/api/v1/batches?name=tr", token, "text/csv", goodTransitions)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	b, err := st.BatchByName(ctx, "tr")
	require.NoError(t, err)
	ids, err := st.ItemIDs(ctx, b.ID)
	require.NoError(t, err)
	for _, id := range []int64{ids[0], ids[2]} {
		require.NoError(t, st.TransitionItem(ctx, id, store.Transition{From: upgrade.StatusPending, To: upgrade.StatusFailed, ErrorCode: "E"}))
	}
	require.NoError(t, st.TransitionItem(ctx, ids[1], store.Transition{From: upgrade.StatusPending, To: upgrade.StatusIneligible, ErrorCode: "I"}))

	r = send(t, "GET", srv.URL+"/api/v1/batches/tr/report?failed=true", token, "", "")
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	require.Equal(t, `attachment; filename=tr-failed.csv`, r.header.Get("Content-Disposition"))
	op, got, err := importer.Parse(strings.NewReader(r.body), "tr-failed.csv", "")
	require.NoError(t, err, r.body)
	require.Equal(t, upgrade.Transition, op)
	_, all, err := importer.Parse(strings.NewReader(goodTransitions), "in.csv", "")
	require.NoError(t, err)
	want := []store.NewItem{all[0], all[2]}
	for i := range want {
		want[i].LineNumber = i + 2
	}
	require.Equal(t, want, got, "exactly the failed items, in file order, with their inputs")

	// The export imports again as a new batch.
	r = send(t, "POST", srv.URL+"/api/v1/batches?name=tr-retry", token, "text/csv", r.body)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Contains(t, r.body, `"total": 2`)
}

// slowReader yields one chunk per Read, each after pause.
type slowReader struct {
	chunks []string
	pause  time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func TestAPIUploadOutlastsTheServerTimeouts(t *testing.T) {
	t.Parallel()
	h, st, _ := newHandler(t)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	// Four lines, 100 ms apart: the body takes twice the server's timeouts.
	body := &slowReader{chunks: strings.SplitAfter(strings.TrimSuffix(goodTransitions, "\n"), "\n"), pause: 100 * time.Millisecond}
	require.Len(t, body.chunks, 4)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/batches?name=slow", body) //nolint:noctx // test
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Greater(t, time.Since(start), srv.Config.ReadTimeout, "the upload outlasted the server's timeouts")
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(got))
	require.Contains(t, string(got), `"total": 3`)
	b, err := st.BatchByName(context.Background(), "slow")
	require.NoError(t, err)
	require.Equal(t, 3, b.ItemCount)
}

func TestAPIAnswers408WhenTheFileArrivesTooSlowly(t *testing.T) {
	t.Parallel()
	h, st, _ := newHandler(t)
	api.SetTransferTimeout(h, 100*time.Millisecond)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	// Announce the whole file, send part of it, then nothing.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = fmt.Fprintf(conn, "POST /api/v1/batches?name=stalled HTTP/1.1\r\nHost: test\r\n"+
		"Authorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s",
		token, len(goodTransitions), goodTransitions[:60])
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, string(got))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Contains(t, string(got), "did not arrive within 100ms, nothing imported")

	_, err = st.BatchByName(context.Background(), "stalled")
	require.True(t, errors.Is(err, store.ErrNotFound), "nothing is created: %v", err)
}
