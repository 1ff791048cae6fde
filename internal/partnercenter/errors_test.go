package partnercenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

// newTestResponse builds a response as the transport would hand it to
// checkResponse, with the request that produced it.
func newTestResponse(status int, header http.Header, body string) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, "https://api.partnercenter.microsoft.com/v1/productUpgrades", nil)
	req.Header.Set("MS-RequestId", "sent-request-id")
	req.Header.Set("MS-CorrelationId", "sent-correlation-id")
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		StatusCode: status,
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header:     header,
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
}

func TestCheckResponse(t *testing.T) {
	t.Parallel()

	sentIDs := func(e *Error) *Error {
		e.RequestID, e.CorrelationID = "sent-request-id", "sent-correlation-id"
		return e
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}

	tests := []struct {
		name       string
		status     int
		reason     string // status line text when not the standard one
		header     http.Header
		body       string
		want       *Error
		retryAfter time.Duration // > 0: a *RateLimitError is expected
		conflict   bool
		auth       bool
		terminal   bool
		retryable  bool
		code       string
	}{
		{
			name:   "BadRequestNumericCode",
			status: 400, header: jsonHeader,
			body:     `{"code":900107,"description":"Azure catalog item not found.","source":"PartnerFD","data":["x"]}`,
			want:     sentIDs(&Error{StatusCode: 400, Code: "900107", Description: "Azure catalog item not found.", Source: "PartnerFD"}),
			terminal: true, code: "900107",
		},
		{
			name:   "StringCodeAndMessage",
			status: 404, header: jsonHeader,
			body:     `{"code":"900106","message":"No upgrade request found."}`,
			want:     sentIDs(&Error{StatusCode: 404, Code: "900106", Description: "No upgrade request found."}),
			terminal: true, code: "900106",
		},
		{
			name:   "ConflictUpgradeInProgress",
			status: 409, header: jsonHeader,
			body:     `{"code":900109,"description":"An upgrade for this customer is already in progress."}`,
			want:     sentIDs(&Error{StatusCode: 409, Code: "900109", Description: "An upgrade for this customer is already in progress."}),
			conflict: true, code: "900109",
		},
		{
			name:   "UnauthorizedMFARequired",
			status: 401,
			header: http.Header{"Www-Authenticate": {`Bearer error="invalid_token"`}},
			want:   sentIDs(&Error{StatusCode: 401}),
			auth:   true, code: "http_401",
		},
		{
			name:   "UnauthorizedReasonPhrase",
			status: 401,
			reason: "Unauthorized - MFA required",
			want:   sentIDs(&Error{StatusCode: 401, Description: "Unauthorized - MFA required"}),
			auth:   true, code: "http_401",
		},
		{
			name:   "AppOnlyNotSupported",
			status: 403, header: jsonHeader,
			body: `{"code":900329,"description":"This resource doesn't support application-only authentication."}`,
			want: sentIDs(&Error{StatusCode: 403, Code: "900329", Description: "This resource doesn't support application-only authentication."}),
			auth: true, terminal: true, code: "900329",
		},
		{
			name:   "ForbiddenBusinessRule",
			status: 403, header: jsonHeader,
			body:     `{"code":900108,"description":"Customer has no Azure subscriptions."}`,
			want:     sentIDs(&Error{StatusCode: 403, Code: "900108", Description: "Customer has no Azure subscriptions."}),
			terminal: true, code: "900108",
		},
		{
			name:       "RateLimitedRetryAfterSeconds",
			status:     429,
			header:     http.Header{"Retry-After": {"57"}, "Content-Type": {"application/json"}},
			body:       `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}`,
			want:       sentIDs(&Error{StatusCode: 429, Description: "Rate limit is exceeded. Try again in 57 seconds."}),
			retryAfter: 57 * time.Second, retryable: true, code: "http_429",
		},
		{
			name:   "RateLimitedRetryAfterDate",
			status: 429,
			header: http.Header{
				"Date":        {"Thu, 04 Oct 2019 20:35:35 GMT"},
				"Retry-After": {"Thu, 04 Oct 2019 20:36:05 GMT"},
			},
			body:       `{"statusCode":429,"message":"Rate limit is exceeded."}`,
			want:       sentIDs(&Error{StatusCode: 429, Description: "Rate limit is exceeded."}),
			retryAfter: 30 * time.Second, retryable: true, code: "http_429",
		},
		{
			name:       "RateLimitedMessageOnly",
			status:     429,
			body:       `{"statusCode":429,"message":"Rate limit is exceeded. Try again in 12 seconds."}`,
			want:       sentIDs(&Error{StatusCode: 429, Description: "Rate limit is exceeded. Try again in 12 seconds."}),
			retryAfter: 12 * time.Second, retryable: true, code: "http_429",
		},
		{
			name:       "RateLimitedNothingStated",
			status:     429,
			want:       sentIDs(&Error{StatusCode: 429}),
			retryAfter: DefaultRetryAfter, retryable: true, code: "http_429",
		},
		{
			name:       "RateLimitedZeroFloorsToOneSecond",
			status:     429,
			header:     http.Header{"Retry-After": {"0"}},
			want:       sentIDs(&Error{StatusCode: 429}),
			retryAfter: time.Second, retryable: true, code: "http_429",
		},
		{
			name:   "ServerErrorHTML",
			status: 500,
			header: http.Header{"Content-Type": {"text/html"}},
			body: "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title><style>body{color:red}</style></head>\n" +
				"<body><h1>The service is\ttemporarily &amp; unexpectedly down</h1>\x00\x1b</body></html>",
			want:      sentIDs(&Error{StatusCode: 500, Description: "Service Unavailable The service is temporarily & unexpectedly down"}),
			retryable: true, code: "http_500",
		},
		{
			name:      "BadGatewayPlainText",
			status:    502,
			body:      "upstream connect error\r\nor disconnect/reset before headers",
			want:      sentIDs(&Error{StatusCode: 502, Description: "upstream connect error or disconnect/reset before headers"}),
			retryable: true, code: "http_502",
		},
		{
			name:      "ServiceUnavailableEmptyBody",
			status:    503,
			want:      sentIDs(&Error{StatusCode: 503}),
			retryable: true, code: "http_503",
		},
		{
			name:      "RequestTimeoutWithCode",
			status:    408,
			body:      `{"code":900225,"description":"Unexpected error processing the migration."}`,
			want:      sentIDs(&Error{StatusCode: 408, Code: "900225", Description: "Unexpected error processing the migration."}),
			retryable: true, code: "900225",
		},
		{
			name:   "GatewayErrorEnvelope",
			status: 401,
			body:   `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}`,
			want:   sentIDs(&Error{StatusCode: 401, Code: "InvalidAuthenticationToken", Description: "Access token has expired."}),
			auth:   true, code: "InvalidAuthenticationToken",
		},
		{
			name:   "ServerIDsPreferred",
			status: 400,
			header: http.Header{"Ms-Requestid": {"server-request-id"}, "Ms-Correlationid": {"server-correlation-id"}},
			body:   `{"code":800002,"description":"Invalid input."}`,
			want: &Error{StatusCode: 400, Code: "800002", Description: "Invalid input.",
				RequestID: "server-request-id", CorrelationID: "server-correlation-id"},
			terminal: true, code: "800002",
		},
		{
			name:     "JSONWithoutKnownFields",
			status:   400,
			body:     `{"unexpected":true}`,
			want:     sentIDs(&Error{StatusCode: 400, Description: `{"unexpected":true}`}),
			terminal: true, code: "http_400",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := newTestResponse(tt.status, tt.header, tt.body)
			if tt.reason != "" {
				resp.Status = fmt.Sprintf("%d %s", tt.status, tt.reason)
			}
			err := checkResponse(resp)
			require.Error(t, err)

			var pcErr *Error
			require.ErrorAs(t, err, &pcErr)
			require.Empty(t, cmp.Diff(tt.want, pcErr))

			d, limited := IsRateLimited(err)
			require.Equal(t, tt.retryAfter > 0, limited)
			require.Equal(t, tt.retryAfter, d)
			if limited {
				var rl *RateLimitError
				require.ErrorAs(t, err, &rl)
				require.Same(t, pcErr, rl.Err)
			}

			require.Equal(t, tt.conflict, IsConflict(err), "IsConflict")
			require.Equal(t, tt.auth, IsAuth(err), "IsAuth")
			require.Equal(t, tt.terminal, IsTerminal(err), "IsTerminal")
			require.Equal(t, tt.retryable, IsRetryable(err), "IsRetryable")
			require.Equal(t, tt.code, ErrorCode(err))

			wrapped := fmt.Errorf("upgrade item 7: %w", err)
			require.Equal(t, tt.code, ErrorCode(wrapped))
			require.Equal(t, tt.retryable, IsRetryable(wrapped))
		})
	}
}

func TestCheckResponse_success(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 201, 202, 204, 299} {
		require.NoError(t, checkResponse(newTestResponse(status, nil, "not read")))
	}
	for _, status := range []int{100, 301, 304} {
		require.Error(t, checkResponse(newTestResponse(status, nil, "")))
	}
}

func TestCheckResponse_bodyLargerThanCap(t *testing.T) {
	t.Parallel()

	// A JSON error cut off by the cap falls back to a short excerpt.
	big := `{"code":900107,"description":"` + strings.Repeat("x", 2*maxErrorBody) + `"}`
	body := &countingReader{r: strings.NewReader(big)}
	resp := newTestResponse(400, nil, "")
	resp.Body = io.NopCloser(body)

	err := checkResponse(resp)
	var pcErr *Error
	require.ErrorAs(t, err, &pcErr)
	require.LessOrEqual(t, body.n, int64(maxErrorBody))
	require.Empty(t, pcErr.Code)
	require.True(t, strings.HasPrefix(pcErr.Description, `{"code":900107,"description":"xxx`), pcErr.Description)
	require.LessOrEqual(t, len([]rune(pcErr.Description)), maxSnippet)
	require.True(t, strings.HasSuffix(pcErr.Description, "…"))
	require.Less(t, len(err.Error()), 400)

	// A long but complete description is kept up to its own cap.
	long := `{"code":"800002","description":"` + strings.Repeat("y", 5000) + `"}`
	err = checkResponse(newTestResponse(400, nil, long))
	require.ErrorAs(t, err, &pcErr)
	require.Equal(t, "800002", pcErr.Code)
	require.Len(t, []rune(pcErr.Description), maxDescription)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestCheckResponse_retryAfterNeverNegative(t *testing.T) {
	t.Parallel()
	header := http.Header{
		"Date":        {"Thu, 04 Oct 2019 20:35:35 GMT"},
		"Retry-After": {"Thu, 04 Oct 2019 20:30:00 GMT"},
	}
	d, ok := IsRateLimited(checkResponse(newTestResponse(429, header, "")))
	require.True(t, ok)
	require.Equal(t, time.Second, d)

	d, ok = IsRateLimited(checkResponse(newTestResponse(429, http.Header{"Retry-After": {"99999999999"}}, "")))
	require.True(t, ok)
	require.Equal(t, 24*time.Hour, d)
}

func TestError_neverLeaksCredentials(t *testing.T) {
	t.Parallel()

	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwYXJ0bmVyIn0.c2lnbmF0dXJl"
	const secret = "hunter2-client-value"

	client, mux, _ := setup(t)
	mux.HandleFunc("/v1/productUpgrades", func(w http.ResponseWriter, r *http.Request) {
		// A misbehaving server that echoes what it was sent.
		writeJSON(w, http.StatusBadRequest, fmt.Appendf(nil,
			`{"code":800002,"description":"Bad request. Authorization: %s; client_secret=%s; {\"refresh_token\": \"%s\"} raw %s"}`,
			r.Header.Get("Authorization"), secret, secret, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
	})
	mux.HandleFunc("/v1/productUpgrades/eligibility", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "<html><body>Headers: %v password=%s</body></html>", r.Header, secret)
	})

	// Authenticate the way production does: an oauth2 transport adds the token.
	client.httpClient = oauth2.NewClient(
		context.WithValue(t.Context(), oauth2.HTTPClient, client.httpClient),
		oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))

	_, _, err := client.ProductUpgrades.Create(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "c"})
	require.Error(t, err)
	requireNoCredentials(t, err.Error(), token, secret)
	require.Contains(t, err.Error(), "Bad request. Authorization: Bearer [REDACTED]")

	_, _, err = client.ProductUpgrades.Eligibility(t.Context(), Call{}, ProductUpgradesRequest{CustomerID: "c"})
	require.Error(t, err)
	requireNoCredentials(t, err.Error(), token, secret)
}

func requireNoCredentials(t *testing.T, s string, credentials ...string) {
	t.Helper()
	for _, c := range credentials {
		require.NotContains(t, s, c)
	}
	require.NotContains(t, s, "eyJ")
	require.NotContains(t, strings.ToLower(s), "hunter2")
}

func TestSanitizeText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain text":                              "plain text",
		"  lots \n\t of\r\n  space  ":             "lots of space",
		"ctrl\x00chars\x1b[31m here\x7f":          "ctrl chars [31m here",
		"bad utf8 \xff\xfe end":                   "bad utf8 end",
		"Authorization: Bearer abc.def-ghi":       "Authorization: Bearer [REDACTED]",
		"basic dXNlcjpwYXNz":                      "basic [REDACTED]",
		"client_secret=abc&grant_type=x":          "client_secret=[REDACTED]&grant_type=x",
		`{"access_token": "abc", "code": 900107}`: `{"access_token": "[REDACTED]", "code": 900107}`,
		"id eyJhbGciOi.eyJzdWIi.sig here":         "id [REDACTED] here",
		"Password: hunter2 is wrong":              "Password: [REDACTED] is wrong",
	} {
		require.Equal(t, want, sanitizeText(in, 200, nil), in)
	}
	require.Equal(t, "the [REDACTED] value", sanitizeText("the opaque-credential value", 200, []string{"opaque-credential"}))
	require.Equal(t, "abcd…", sanitizeText("abcdefgh", 5, nil))
	require.Equal(t, "héllo", sanitizeText("héllo", 5, nil))
}

func TestClassification(t *testing.T) {
	t.Parallel()

	tokenErr := func(status int, code string) error {
		return &TransportError{Op: OpProductUpgradeStatus, Err: &url.Error{Op: "Post", URL: "https://x", Err: &oauth2.RetrieveError{
			Response:  &http.Response{StatusCode: status},
			Body:      []byte(`{"error":"` + code + `","client_secret":"should-not-show"}`),
			ErrorCode: code, ErrorDescription: "AADSTS700082: The refresh token has expired.",
		}}}
	}

	tests := []struct {
		name      string
		err       error
		retryable bool
		terminal  bool
		conflict  bool
		auth      bool
		code      string
	}{
		{name: "Nil", err: nil, code: ""},
		{name: "Plain", err: errors.New("boom"), code: "error"},
		{name: "Canceled", err: &TransportError{Op: "x", Err: context.Canceled}, retryable: true, code: "transport"},
		{name: "TokenInvalidGrant", err: tokenErr(400, "invalid_grant"), auth: true, code: "token_invalid_grant"},
		{name: "TokenServerError", err: tokenErr(503, "temporarily_unavailable"), auth: true, retryable: true, code: "token_temporarily_unavailable"},
		{name: "TokenOddCode", err: tokenErr(400, "Weird Code!"), auth: true, code: "token"},
		{name: "NoLocation", err: fmt.Errorf("x: %w", ErrNoLocation), code: "no_location"},
		{name: "Decode", err: fmt.Errorf("x: %w", ErrDecode), code: "decode"},
		{name: "InvalidArgument", err: fmt.Errorf("x: %w", ErrInvalidArgument), terminal: true, code: "invalid_argument"},
		{name: "403RoleLacksRights", err: &Error{StatusCode: 403, Code: "900150"}, auth: true, terminal: true, code: "900150"},
		{name: "403InsufficientPrivileges", err: &Error{StatusCode: 403, Code: "900308"}, auth: true, terminal: true, code: "900308"},
		{name: "403ConditionalAccess", err: &Error{StatusCode: 403, Code: "900309"}, auth: true, terminal: true, code: "900309"},
		{name: "404", err: &Error{StatusCode: 404}, terminal: true, code: "http_404"},
		{name: "409Other", err: &Error{StatusCode: 409, Code: "800060"}, conflict: true, code: "800060"},
		{name: "RateLimitNilInner", err: &RateLimitError{RetryAfter: time.Second}, code: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.retryable, IsRetryable(tt.err), "IsRetryable")
			require.Equal(t, tt.terminal, IsTerminal(tt.err), "IsTerminal")
			require.Equal(t, tt.conflict, IsConflict(tt.err), "IsConflict")
			require.Equal(t, tt.auth, IsAuth(tt.err), "IsAuth")
			require.Equal(t, tt.code, ErrorCode(tt.err), "ErrorCode")
			if tt.err != nil {
				require.NotContains(t, tt.err.Error(), "should-not-show")
			}
		})
	}
}

func TestTransportError_tokenFailureText(t *testing.T) {
	t.Parallel()
	err := &TransportError{Op: OpProductUpgradeCreate, Err: &url.Error{Op: "Post", URL: "https://x", Err: &oauth2.RetrieveError{
		Response:  &http.Response{StatusCode: 400},
		Body:      []byte(`{"error":"invalid_grant","refresh_token":"leaked-value"}`),
		ErrorCode: "invalid_grant", ErrorDescription: "AADSTS70008: The refresh token has expired\r\ndue to inactivity.",
	}}}
	require.Equal(t,
		"partnercenter: product_upgrade_create: transport: token endpoint HTTP 400, error invalid_grant: "+
			"AADSTS70008: The refresh token has expired due to inactivity.",
		err.Error())
}

func TestRateLimitError_text(t *testing.T) {
	t.Parallel()
	err := checkResponse(newTestResponse(429, http.Header{"Retry-After": {"57"}},
		`{"statusCode":429,"message":"Rate limit is exceeded. Try again in 57 seconds."}`))
	require.Equal(t,
		"partnercenter: HTTP 429 Too Many Requests: Rate limit is exceeded. Try again in 57 seconds. "+
			"(request id sent-request-id) (retry after 57s)",
		err.Error())
	require.Equal(t, "partnercenter: HTTP 429 Too Many Requests (retry after 1s)", (&RateLimitError{RetryAfter: time.Second}).Error())
}
