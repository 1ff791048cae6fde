package partnercenter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNewHTTPClient_onToken checks that Credentials.OnToken hears every
// token acquisition, with the endpoint's status, for both grants.
func TestNewHTTPClient_onToken(t *testing.T) {
	t.Parallel()
	var refuse bool
	var mu sync.Mutex
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if refuse {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"AADSTS70008: expired"}`))
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(tokenSrv.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(api.Close)

	for _, creds := range []Credentials{
		{ClientID: "app", ClientSecret: "secret-1", TokenURL: tokenSrv.URL},
		{ClientID: "app", RefreshToken: "refresh-1", TokenURL: tokenSrv.URL},
	} {
		mu.Lock()
		refuse = false
		mu.Unlock()
		var infos []TokenInfo
		var imu sync.Mutex
		creds.OnToken = func(ti TokenInfo) { imu.Lock(); infos = append(infos, ti); imu.Unlock() }
		c, err := NewHTTPClient(context.Background(), creds, nil)
		require.NoError(t, err)
		for range 2 { // the second request reuses the cached token
			resp, err := c.Get(api.URL)
			require.NoError(t, err)
			_ = resp.Body.Close()
		}
		imu.Lock()
		require.Len(t, infos, 1)
		require.Equal(t, http.StatusOK, infos[0].StatusCode)
		require.NoError(t, infos[0].Err)
		imu.Unlock()

		mu.Lock()
		refuse = true
		mu.Unlock()
		creds.OnToken = func(ti TokenInfo) { imu.Lock(); infos = append(infos, ti); imu.Unlock() }
		c, err = NewHTTPClient(context.Background(), creds, nil)
		require.NoError(t, err)
		_, err = c.Get(api.URL)
		require.Error(t, err)
		imu.Lock()
		require.Len(t, infos, 2)
		require.Equal(t, http.StatusBadRequest, infos[1].StatusCode)
		require.True(t, IsTokenFailure(infos[1].Err))
		imu.Unlock()
	}
}
