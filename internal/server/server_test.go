package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"riverqueue.com/riverui"

	"github.com/pcupgrade/orchestrator/internal/api"
	"github.com/pcupgrade/orchestrator/internal/server"
	"github.com/pcupgrade/orchestrator/internal/store/storetest"
)

func riverUI(t *testing.T) http.Handler {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	rc, err := river.NewClient(riverpgxv5.New(storetest.NewPool(t)), &river.Config{Logger: logger})
	require.NoError(t, err)
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(rc, nil), Logger: logger, Prefix: server.RiverUIPrefix,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, ui.Start(ctx))
	return ui
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRiverUIBehindBearerTokens(t *testing.T) {
	t.Parallel()
	ui := riverUI(t)
	ready := func(context.Context) error { return nil }
	logger := slog.New(slog.DiscardHandler)

	srv := httptest.NewServer(server.Handler(prometheus.NewRegistry(), ready, nil,
		api.RequireBearer([]string{"s3cret-token"}, ui), logger))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/riverui", "/riverui/", "/riverui/jobs", "/riverui/api/jobs?state=available", "/riverui/api/queues"} {
		for _, tok := range []string{"", "wrong"} {
			code, _ := get(t, srv.URL+path, tok)
			require.Equal(t, http.StatusUnauthorized, code, "%s with token %q", path, tok)
		}
	}
	code, body := get(t, srv.URL+"/riverui/", "s3cret-token")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, strings.ToLower(body), "<html")
	code, _ = get(t, srv.URL+"/riverui/api/jobs?state=available", "s3cret-token")
	require.Equal(t, http.StatusOK, code)

	// With no tokens configured the UI is closed, never open.
	closed := httptest.NewServer(server.Handler(prometheus.NewRegistry(), ready, nil, api.RequireBearer(nil, ui), logger))
	t.Cleanup(closed.Close)
	for _, tok := range []string{"", "anything"} {
		code, _ := get(t, closed.URL+"/riverui/", tok)
		require.Equal(t, http.StatusUnauthorized, code)
	}
}
