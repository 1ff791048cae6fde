package partnercenter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

const (
	// maxErrorBody caps how much of an error response body is read.
	maxErrorBody = 64 << 10
	// maxSnippet caps the body excerpt kept when the body is not a JSON error.
	maxSnippet = 200
	// maxDescription caps a decoded error description (Partner Center
	// documents at most 1024 characters).
	maxDescription = 1024
	// maxCode caps a decoded error code.
	maxCode = 64

	// DefaultRetryAfter is the wait assumed for a 429 that states none.
	DefaultRetryAfter = 60 * time.Second
	minRetryAfter     = time.Second
	maxRetryAfter     = 24 * time.Hour
)

// Sentinel errors. Match them with errors.Is; the client wraps them with
// "partnercenter: <operation>: ".
var (
	// ErrNoLocation means Partner Center accepted a create request but the
	// response carried no usable Location header. The resource may exist;
	// look it up before creating it again.
	ErrNoLocation = errors.New("accepted response has no usable Location header")

	// ErrDecode means a successful response had a body that could not be
	// decoded.
	ErrDecode = errors.New("cannot decode response body")

	// ErrInvalidArgument means a method was called with arguments that can
	// never succeed; no request was sent.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Partner Center error codes that mean the credentials lack a right, rather
// than the request being wrong.
const (
	codeRoleLacksRights        = "900150"
	codeInsufficientPrivileges = "900308"
	codeConditionalAccess      = "900309"
	codeAppOnlyNotSupported    = "900329"
)

// Error is a non-2xx answer from Partner Center.
//
// Its text never includes request headers, and secrets that a server might
// echo in the body (bearer tokens, JWTs, "...secret=" or "...token=" values)
// are redacted.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is Partner Center's error code (such as "900109"), or empty when
	// the body had none.
	Code string
	// Description is the error text from the body, or a short excerpt of a
	// body that is not a Partner Center error (an HTML page, plain text).
	Description string
	// Source is the reporting component, such as "PartnerFD", if given.
	Source string
	// RequestID and CorrelationID are the MS-RequestId and MS-CorrelationId
	// of the exchange: the server's echo when present, else what was sent.
	RequestID     string
	CorrelationID string
	// Op is the operation that failed, one of the Op constants; it is empty
	// when the error did not come from an endpoint method.
	Op string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("partnercenter: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	if e.Code != "" {
		b.WriteString(", code ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// RateLimitError is a 429 Too Many Requests answer. It wraps the *Error for
// the same response, so errors.As(err, &pcErr) with pcErr of type *Error
// matches it too.
type RateLimitError struct {
	// Err is the underlying error; its StatusCode is 429.
	Err *Error
	// RetryAfter is how long to wait before the next attempt: the
	// Retry-After header (seconds or HTTP date), else the delay stated in the
	// message ("Try again in 57 seconds."), else DefaultRetryAfter. It is at
	// least one second.
	RetryAfter time.Duration
}

// Error implements error.
func (e *RateLimitError) Error() string {
	inner := "partnercenter: HTTP 429 Too Many Requests"
	if e.Err != nil {
		inner = e.Err.Error()
	}
	return fmt.Sprintf("%s (retry after %s)", inner, e.RetryAfter)
}

// Unwrap returns the underlying *Error.
func (e *RateLimitError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}

// TransportError means a request got no HTTP response: the connection
// failed or was reset, the request timed out or its context ended, or the
// token for it could not be obtained (then it wraps a *TokenError).
type TransportError struct {
	// Op is the operation that failed, one of the Op constants.
	Op string
	// Err is the cause, typically a *url.Error.
	Err error
}

// Error implements error.
func (e *TransportError) Error() string {
	cause := "<nil>"
	var re *oauth2.RetrieveError
	var tokErr *TokenError
	switch {
	case errors.As(e.Err, &tokErr):
		cause = tokErr.Error()
	case errors.As(e.Err, &re):
		cause = describeRetrieveError(re)
	case e.Err != nil:
		cause = sanitizeText(e.Err.Error(), maxDescription, nil)
	}
	return fmt.Sprintf("partnercenter: %s: transport: %s", e.Op, cause)
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// describeRetrieveError summarises a token-endpoint failure without echoing
// its raw body.
func describeRetrieveError(re *oauth2.RetrieveError) string {
	var b strings.Builder
	b.WriteString("token endpoint")
	if re.Response != nil {
		fmt.Fprintf(&b, " HTTP %d", re.Response.StatusCode)
	}
	if re.ErrorCode != "" {
		b.WriteString(", error ")
		b.WriteString(sanitizeText(re.ErrorCode, maxCode, nil))
	}
	if re.ErrorDescription != "" {
		b.WriteString(": ")
		b.WriteString(sanitizeText(re.ErrorDescription, maxSnippet, nil))
	}
	return b.String()
}

// apiFault is the Partner Center error body. The 429 body uses statusCode
// and message instead; gateways in front of the API sometimes answer with an
// {"error": {"code", "message"}} envelope.
type apiFault struct {
	Code        flexString `json:"code"`
	Description string     `json:"description"`
	Message     string     `json:"message"`
	Source      string     `json:"source"`
	Error       *struct {
		Code    flexString `json:"code"`
		Message string     `json:"message"`
	} `json:"error"`
}

// checkResponse is the only place an HTTP status becomes an error. It
// returns nil for 2xx, a *RateLimitError for 429 and an *Error otherwise. It
// reads at most maxErrorBody bytes of a failed response's body and leaves
// closing it to the caller.
func checkResponse(r *http.Response) error {
	if r.StatusCode >= 200 && r.StatusCode <= 299 {
		return nil
	}

	e := &Error{
		StatusCode:    r.StatusCode,
		RequestID:     r.Header.Get(HeaderRequestID),
		CorrelationID: r.Header.Get(HeaderCorrelationID),
	}
	var secrets []string
	if r.Request != nil {
		if e.RequestID == "" {
			e.RequestID = r.Request.Header.Get(HeaderRequestID)
		}
		if e.CorrelationID == "" {
			e.CorrelationID = r.Request.Header.Get(HeaderCorrelationID)
		}
		secrets = credentialValues(r.Request.Header.Get("Authorization"))
	}
	e.RequestID = sanitizeText(e.RequestID, maxCode, secrets)
	e.CorrelationID = sanitizeText(e.CorrelationID, maxCode, secrets)

	var body []byte
	if r.Body != nil {
		// A read error leaves whatever arrived; the status alone is enough.
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
	}

	var rawMessage string
	var f apiFault
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &f) == nil {
		code, text := string(f.Code), f.Description
		if text == "" {
			text = f.Message
		}
		if f.Error != nil {
			if code == "" {
				code = string(f.Error.Code)
			}
			if text == "" {
				text = f.Error.Message
			}
		}
		rawMessage = text
		e.Code = sanitizeText(code, maxCode, secrets)
		e.Description = sanitizeText(text, maxDescription, secrets)
		e.Source = sanitizeText(f.Source, maxCode, secrets)
	}
	if e.Code == "" && e.Description == "" {
		e.Description = bodySnippet(body, r.Header.Get("Content-Type"), secrets)
	}
	if e.Description == "" {
		// Some answers explain themselves only in the reason phrase, such as
		// "401 Unauthorized - MFA required".
		reason := strings.TrimSpace(strings.TrimPrefix(r.Status, strconv.Itoa(r.StatusCode)))
		if reason != "" && !strings.EqualFold(reason, http.StatusText(r.StatusCode)) {
			e.Description = sanitizeText(reason, maxSnippet, secrets)
		}
	}

	if r.StatusCode == http.StatusTooManyRequests {
		return &RateLimitError{Err: e, RetryAfter: retryAfter(r.Header, rawMessage)}
	}
	return e
}

// retryInMessage finds the delay in "Rate limit is exceeded. Try again in 57
// seconds."
var retryInMessage = regexp.MustCompile(`(?i)\b(?:in|after)\s+(\d{1,9})\s*(?:seconds?|secs?|s)\b`)

// retryAfter derives the wait for a 429 response.
func retryAfter(h http.Header, message string) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(secs) && !math.IsInf(secs, 0) {
			return clampRetryAfter(secondsToDuration(secs))
		}
		if at, err := http.ParseTime(v); err == nil {
			// Measure against the server's clock when it says what it is.
			now := time.Now()
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				now = d
			}
			return clampRetryAfter(at.Sub(now))
		}
	}
	if m := retryInMessage.FindStringSubmatch(message); m != nil {
		if secs, err := strconv.ParseFloat(m[1], 64); err == nil {
			return clampRetryAfter(secondsToDuration(secs))
		}
	}
	return DefaultRetryAfter
}

func secondsToDuration(secs float64) time.Duration {
	if secs > maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(secs * float64(time.Second))
}

func clampRetryAfter(d time.Duration) time.Duration {
	return min(max(d, minRetryAfter), maxRetryAfter)
}

// Redaction patterns for text that came from a server.
var (
	redactScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*`)
	redactJWT    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`)
	redactKeyVal = regexp.MustCompile(`(?i)([A-Za-z0-9_-]*(?:secret|token|password|passwd|pwd|assertion|signature|sig))(["']?\s*[:=]\s*["']?)([^"'&\s,;}\]]+)`)
	htmlDrop     = regexp.MustCompile(`(?is)<(?:script|style|head)\b.*?</(?:script|style|head)\s*>`)
	htmlTag      = regexp.MustCompile(`(?s)<[^>]*>`)
)

const redacted = "[REDACTED]"

// credentialValues returns the credential of an Authorization header value
// (the part after the scheme) so it can be removed from any text a server
// echoes.
func credentialValues(auth string) []string {
	auth = strings.TrimSpace(auth)
	if auth == "" {
		return nil
	}
	if _, cred, ok := strings.Cut(auth, " "); ok {
		auth = strings.TrimSpace(cred)
	}
	if len(auth) < 4 {
		return nil // too short to redact without mangling ordinary text
	}
	return []string{auth}
}

// sanitizeText makes server-supplied text safe for an error string: valid
// UTF-8, no control characters, whitespace collapsed, secrets redacted and at
// most maxRunes runes.
func sanitizeText(s string, maxRunes int, secrets []string) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	s = redactScheme.ReplaceAllString(s, "${1} "+redacted)
	s = redactJWT.ReplaceAllString(s, redacted)
	s = redactKeyVal.ReplaceAllString(s, "${1}${2}"+redacted)
	return truncateRunes(s, maxRunes)
}

func truncateRunes(s string, maxRunes int) string {
	if utf8.RuneCountInString(s) <= maxRunes {
		return s
	}
	runes := []rune(s)
	return strings.TrimSpace(string(runes[:maxRunes-1])) + "…"
}

// asciiLower lowers ASCII letters only, so that byte offsets found in the
// result are valid in s (strings.ToLower rewrites invalid UTF-8 and can
// change the length).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// bodySnippet returns a short readable excerpt of a body that is not a
// Partner Center error, with HTML reduced to its text.
func bodySnippet(body []byte, contentType string, secrets []string) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	if strings.Contains(strings.ToLower(contentType), "html") || strings.HasPrefix(s, "<") {
		// Keep the title, which usually names the failure, then the text.
		title := ""
		lower := asciiLower(s) // same byte offsets as s, even for invalid UTF-8
		if i := strings.Index(lower, "<title>"); i >= 0 {
			if j := strings.Index(lower[i:], "</title>"); j > 0 {
				title = s[i+len("<title>") : i+j]
			}
		}
		s = htmlDrop.ReplaceAllString(s, " ")
		s = htmlTag.ReplaceAllString(s, " ")
		s = html.UnescapeString(strings.TrimSpace(title + " " + s))
	}
	return sanitizeText(s, maxSnippet, secrets)
}

// asError returns the *Error in err's chain, if any.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// IsRetryable reports whether repeating the request may succeed: a 408, 429
// or 5xx answer, or a transport error (including the caller's context
// ending, so check the context first when shutting down). A failure to get a
// token is retryable only when the token endpoint itself answered 408, 429 or
// 5xx, and not with invalid_grant or an MFA demand.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var tokErr *TokenError
	if errors.As(err, &tokErr) {
		return tokErr.Retryable()
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && retryableStatus(re.Response.StatusCode)
	}
	var te *TransportError
	if errors.As(err, &te) {
		return true
	}
	if e := asError(err); e != nil {
		return retryableStatus(e.StatusCode)
	}
	return false
}

// IsTransient reports whether err says nothing about the work it asked
// for, only that Partner Center (or the token endpoint in front of it) could
// not answer now: a 408 or 5xx answer, a transport error or timeout, a
// response body cut short, or a token endpoint that throttles, fails or does
// not answer. Such a failure must never decide an item's outcome, however
// long it lasts. A 429 from Partner Center itself is not transient in this
// sense: it is an answer about our request rate (see IsRateLimited).
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if IsTokenFailure(err) {
		return IsRetryable(err)
	}
	if _, ok := IsRateLimited(err); ok {
		return false
	}
	return IsRetryable(err) || errors.Is(err, ErrDecode)
}

// TokenRetryAfter returns the wait a throttled token endpoint asked for, if
// err is such a failure.
func TokenRetryAfter(err error) (time.Duration, bool) {
	var tokErr *TokenError
	if errors.As(err, &tokErr) && tokErr.RetryAfter > 0 && tokErr.Retryable() {
		return tokErr.RetryAfter, true
	}
	return 0, false
}

// IsRateLimited reports whether err is a 429 answer, and if so how long to
// wait before trying again.
func IsRateLimited(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// IsTerminal reports whether repeating the same request cannot help: a 4xx
// answer other than 401, 408, 409 and 429, or ErrInvalidArgument. An
// authorization failure (403 with an auth code) is both terminal and IsAuth.
func IsTerminal(err error) bool {
	if errors.Is(err, ErrInvalidArgument) {
		return true
	}
	e := asError(err)
	if e == nil || e.StatusCode < 400 || e.StatusCode > 499 {
		return false
	}
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return true
}

// IsConflict reports whether err is a 409 answer, such as 900109 (an upgrade
// for this customer is already in progress).
func IsConflict(err error) bool {
	e := asError(err)
	return e != nil && e.StatusCode == http.StatusConflict
}

// IsAuth reports whether err is a credentials problem: a 401 answer, a 403
// whose code means the caller lacks a right (900150, 900308, 900309, 900329
// for app-only tokens), or a token-endpoint failure (*TokenError; see also
// IsTokenFailure).
func IsAuth(err error) bool {
	if err == nil {
		return false
	}
	if IsTokenFailure(err) {
		return true
	}
	e := asError(err)
	if e == nil {
		return false
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusForbidden:
		switch e.Code {
		case codeRoleLacksRights, codeInsufficientPrivileges, codeConditionalAccess, codeAppOnlyNotSupported:
			return true
		}
	}
	return false
}

// tokenErrorCode keeps RFC 6749 error codes (invalid_grant, invalid_client...)
// usable as a bounded label.
var tokenErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// ErrorCode returns a short, stable code for err, for metric labels and the
// error_code column: the Partner Center code when the answer had one,
// "http_<status>" when it did not, "transport" for a request without
// answer, "token_<error>" (or "token") when no token could be obtained,
// "no_location", "decode" or "invalid_argument" for the sentinel errors,
// "error" for anything else, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var tokErr *TokenError
	if errors.As(err, &tokErr) {
		if tokenErrorCode.MatchString(tokErr.ErrorCode) {
			return "token_" + tokErr.ErrorCode
		}
		return "token"
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if tokenErrorCode.MatchString(re.ErrorCode) {
			return "token_" + re.ErrorCode
		}
		return "token"
	}
	var te *TransportError
	if errors.As(err, &te) {
		return "transport"
	}
	if e := asError(err); e != nil {
		if e.Code != "" {
			return e.Code
		}
		return "http_" + strconv.Itoa(e.StatusCode)
	}
	switch {
	case errors.Is(err, ErrNoLocation):
		return "no_location"
	case errors.Is(err, ErrDecode):
		return "decode"
	case errors.Is(err, ErrInvalidArgument):
		return "invalid_argument"
	}
	return "error"
}
