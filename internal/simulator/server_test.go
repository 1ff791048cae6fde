package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func TestLatencyDelaysCreateAfterRecording(t *testing.T) {
	t.Parallel()
	const delay = time.Second
	opts := simulator.DefaultOptions()
	customer := uuid.NewString()
	opts.Succeeding = []string{customer}
	opts.Latency = map[string]time.Duration{simulator.OpProductUpgradeCreate: delay}
	b := setup(t, opts)
	tok := b.userToken(t)
	requestID := uuid.NewString()
	body, err := json.Marshal(upgradeBody(customer))
	require.NoError(t, err)

	send := func(ctx context.Context) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.srv.URL+"/v1/productUpgrades", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("MS-RequestId", requestID)
		return b.srv.Client().Do(req)
	}

	// The client gives up while the create is in flight.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		resp, err := send(ctx)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return b.sim.CreatedCount(customer) == 1 }, 5*time.Second, 5*time.Millisecond,
		"the upgrade is recorded before the response is written")
	select {
	case err := <-done:
		t.Fatalf("the response arrived before the delay: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// Its retry with the same MS-RequestId gets the original answer, late.
	start := time.Now()
	resp, err := send(context.Background())
	require.NoError(t, err)
	resp.Body.Close()
	require.GreaterOrEqual(t, time.Since(start), delay)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	ups := b.sim.Upgrades()
	require.Len(t, ups, 1)
	require.Equal(t, "productUpgrades/"+ups[0].ID, resp.Header.Get("Location"))
	require.Equal(t, 1, b.sim.CreatedCount(customer))
	require.Equal(t, 1, b.sim.Requests()[simulator.OpProductUpgradeCreate+"_replayed"])

	// Other operations are not delayed.
	start = time.Now()
	b.eligibility(t, tok, customer)
	require.Less(t, time.Since(start), delay)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeLogsWithoutSecretsAndShutsDown(t *testing.T) {
	t.Parallel()
	sim, err := simulator.New(simulator.DefaultOptions())
	require.NoError(t, err)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- simulator.Serve(ctx, ln, sim, logger) }()
	base := "http://" + ln.Addr().String()

	resp, err := http.PostForm(base+"/"+tenant+"/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {"refresh-secret-value"},
		"client_id": {"app"}, "client_secret": {"client-secret-value"},
	})
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", raw)
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	require.NoError(t, json.Unmarshal(raw, &tok))

	req, err := http.NewRequest(http.MethodPost, base+"/v1/productUpgrades/eligibility",
		strings.NewReader(`{"customerId":"c1958bc7-3284-4952-a257-de594ee64743","productFamily":"Azure"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("MS-RequestId", "c245d5f2-1de3-4ae0-9e42-95e38e3cb8ff")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	require.NoError(t, <-served)

	out := logs.String()
	require.Contains(t, out, `"operation":"token"`)
	require.Contains(t, out, `"operation":"product_upgrade_eligibility"`)
	require.Contains(t, out, `"request_id":"c245d5f2-1de3-4ae0-9e42-95e38e3cb8ff"`)
	require.Contains(t, out, `"level":"DEBUG"`)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, "refresh-secret-value", "client-secret-value", "Bearer"} {
		require.NotContains(t, out, secret)
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	sim, err := simulator.New(simulator.DefaultOptions())
	require.NoError(t, err)

	require.Error(t, simulator.ListenAndServe(context.Background(), "256.0.0.1:bad", sim, nil))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, simulator.ListenAndServe(ctx, "127.0.0.1:0", sim, nil))
}
