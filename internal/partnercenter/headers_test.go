package partnercenter

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

var cvPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{16}\.0$`)

func TestClient_headers(t *testing.T) {
	t.Parallel()
	client, mux, _ := setup(t, WithApplication("Upgrade Orchestrator"))
	reqs := record(t, mux, "GET /v1/customers/{c}/subscriptions/{s}/transitions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"totalCount":0,"items":[]}`))
	})

	// No CV given: a fresh one per request.
	_, resp1, err := client.Transitions.List(t.Context(), Call{}, "c", "s", "")
	require.NoError(t, err)
	r1 := receive(t, reqs)
	_, resp2, err := client.Transitions.List(t.Context(), Call{}, "c", "s", "")
	require.NoError(t, err)
	r2 := receive(t, reqs)

	cv1, cv2 := r1.Header.Get("MS-CV"), r2.Header.Get("MS-CV")
	require.Regexp(t, cvPattern, cv1)
	require.Regexp(t, cvPattern, cv2)
	require.NotEqual(t, cv1, cv2)
	require.Equal(t, cv1, resp1.RequestCV)
	require.Equal(t, cv2, resp2.RequestCV)
	require.Equal(t, "iqOqN0FnaE2y0HcD.0", resp1.CV, "the server's MS-CV")

	for _, r := range []recorded{r1, r2} {
		require.Equal(t, "application/json", r.Header.Get("Accept"))
		require.Empty(t, r.Header.Get("Content-Type"), "a GET has no body")
		require.Equal(t, "en-US", r.Header.Get("X-Locale"))
		require.Equal(t, "Upgrade Orchestrator", r.Header.Get("MS-PartnerCenter-Application"))
		require.Equal(t, testUserAgent, r.Header.Get("User-Agent"))
		require.NotEmpty(t, r.Header.Get("MS-RequestId"))
		require.NotEmpty(t, r.Header.Get("MS-CorrelationId"))
	}

	// A CV given by the caller is sent as is.
	_, resp, err := client.Transitions.List(t.Context(), Call{CV: " RnK86LBbDkWP/w2R.3 "}, "c", "s", "")
	require.NoError(t, err)
	require.Equal(t, "RnK86LBbDkWP/w2R.3", receive(t, reqs).Header.Get("MS-CV"))
	require.Equal(t, "RnK86LBbDkWP/w2R.3", resp.RequestCV)

	require.Regexp(t, cvPattern, NewCV())
}
