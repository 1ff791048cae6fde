package partnercenter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	// DefaultBaseURL is the Partner Center API root for the global and US
	// Government clouds. It carries no version; the client appends "/v1/".
	DefaultBaseURL = "https://api.partnercenter.microsoft.com"

	// DefaultUserAgent is the User-Agent sent unless WithUserAgent says
	// otherwise.
	DefaultUserAgent = "pcupgrade-orchestrator"

	apiVersionPath = "v1/"
	locale         = "en-US"

	// maxResponseBody caps how much of a successful response body is read.
	maxResponseBody = 8 << 20
)

// Header names sent and read by the client.
const (
	HeaderRequestID     = "MS-RequestId"
	HeaderCorrelationID = "MS-CorrelationId"
	HeaderCV            = "MS-CV"
	HeaderApplication   = "MS-PartnerCenter-Application"
	HeaderLocale        = "X-Locale"
)

// Operation names identify each endpoint in Response.Operation,
// CallInfo.Operation and TransportError.Op. They are stable: metrics use
// them as label values and the database stores them, so never rename one.
const (
	OpProductUpgradeEligibility = "product_upgrade_eligibility"
	OpProductUpgradeCreate      = "product_upgrade_create"
	OpProductUpgradeStatus      = "product_upgrade_status"

	OpSubscriptionUpgradeList    = "subscription_upgrade_list"
	OpSubscriptionUpgradePerform = "subscription_upgrade_perform"

	OpTransitionEligibility = "transition_eligibility"
	OpTransitionCreate      = "transition_create"
	OpTransitionList        = "transition_list"
)

// Client talks to the Partner Center REST API. It is safe for concurrent
// use and holds no mutable state after NewClient returns.
type Client struct {
	httpClient  *http.Client
	baseURL     *url.URL // always ends in "/v1/"
	userAgent   string
	application string
	observe     ObserveFunc

	common service // one allocation shared by every service

	// ProductUpgrades moves a customer's legacy Azure subscriptions to the
	// Azure plan.
	ProductUpgrades *ProductUpgradesService

	// SubscriptionUpgrades lists and performs upgrades of traditional
	// license-based subscriptions.
	SubscriptionUpgrades *SubscriptionUpgradesService

	// Transitions lists and performs transitions of (new commerce and
	// traditional) subscriptions.
	Transitions *TransitionsService
}

// service is the shared body of every endpoint group.
type service struct {
	client *Client
}

// ClientOption configures a Client in NewClient.
type ClientOption func(*Client) error

// WithBaseURL sets the API root, without a version suffix (the client
// appends "/v1/"). The root may carry a path, as in
// "http://127.0.0.1:1234/prefix"; a trailing slash is ignored. Only http and
// https URLs without query or fragment are accepted.
func WithBaseURL(raw string) ClientOption {
	return func(c *Client) error {
		u, err := parseBaseURL(raw)
		if err != nil {
			return err
		}
		c.baseURL = u
		return nil
	}
}

// WithUserAgent sets the User-Agent header. An empty string keeps the
// default.
func WithUserAgent(s string) ClientOption {
	return func(c *Client) error {
		if s = strings.TrimSpace(s); s != "" {
			c.userAgent = s
		}
		return nil
	}
}

// WithApplication sets the MS-PartnerCenter-Application header, which names
// the calling application to Partner Center. By default it is not sent.
func WithApplication(name string) ClientOption {
	return func(c *Client) error {
		c.application = strings.TrimSpace(name)
		return nil
	}
}

// WithObserver registers f to be called once per HTTP request, after the
// response has been read or the request has failed. f must be safe for
// concurrent use and should return quickly.
func WithObserver(f ObserveFunc) ClientOption {
	return func(c *Client) error {
		c.observe = f
		return nil
	}
}

// NewClient returns a Client that sends requests through httpClient. The
// client does not authenticate: pass an *http.Client that adds the bearer
// token, such as the one NewHTTPClient builds, and give it a timeout. A nil
// httpClient means a plain &http.Client{}, which is only useful against a
// test server.
func NewClient(httpClient *http.Client, opts ...ClientOption) (*Client, error) {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	base, err := parseBaseURL(DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		httpClient: httpClient,
		baseURL:    base,
		userAgent:  DefaultUserAgent,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	c.common.client = c
	c.ProductUpgrades = (*ProductUpgradesService)(&c.common)
	c.SubscriptionUpgrades = (*SubscriptionUpgradesService)(&c.common)
	c.Transitions = (*TransitionsService)(&c.common)
	return c, nil
}

// BaseURL returns a copy of the versioned URL every request path is resolved
// against, such as "https://api.partnercenter.microsoft.com/v1/".
func (c *Client) BaseURL() *url.URL {
	u := *c.baseURL
	return &u
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("partnercenter: invalid base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("partnercenter: base URL scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("partnercenter: base URL has no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("partnercenter: base URL must not carry user info, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/" + apiVersionPath
	u.RawPath = ""
	return u, nil
}

// Call carries the per-request identifiers a caller controls.
//
// RequestID is sent as MS-RequestId, which Partner Center uses as an
// idempotency key: reuse the same value only when retrying a request that got
// no definite answer (a transport error, a timeout or a 5xx), and use a fresh
// one after any other response. CorrelationID is sent as MS-CorrelationId to
// tie related requests together. An empty field is replaced by a random UUID;
// Response reports the values actually sent.
//
// CV is sent as MS-CV, the correlation vector Partner Center uses to trace a
// request through its services. When empty, the client sends a fresh vector
// of the form "<16 base64 characters>.0" (see NewCV); Response.RequestCV
// reports the value sent.
type Call struct {
	RequestID     string
	CorrelationID string
	CV            string
}

// Response describes one HTTP exchange with Partner Center. Endpoint methods
// return a non-nil *Response whenever a request was sent, successful or not.
type Response struct {
	// Response is the HTTP response, with its body already read and closed.
	// It is nil when no response arrived (see Status).
	*http.Response

	// Operation names the endpoint, one of the Op constants.
	Operation string

	// RequestID and CorrelationID are the MS-RequestId and MS-CorrelationId
	// values sent with the request.
	RequestID     string
	CorrelationID string

	// RequestCV is the MS-CV value sent with the request.
	RequestCV string

	// ServerRequestID, ServerCorrelationID and CV are the MS-RequestId,
	// MS-CorrelationId and MS-CV headers of the response, if any.
	ServerRequestID     string
	ServerCorrelationID string
	CV                  string

	// Duration is the time from sending the request to having read the
	// response body, or to the transport failure.
	Duration time.Duration
}

// Status returns the HTTP status code, or 0 when no HTTP response arrived.
// It is safe to call on a nil *Response. (It shadows http.Response.Status;
// the status line text remains available as r.Response.Status.)
func (r *Response) Status() int {
	if r == nil || r.Response == nil {
		return 0
	}
	return r.StatusCode
}

// CallInfo summarises one HTTP request for an ObserveFunc.
type CallInfo struct {
	// Operation is one of the Op constants.
	Operation string
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int
	// Duration is the same as Response.Duration.
	Duration time.Duration
	// Err is the error the endpoint method returns, or nil.
	Err error
}

// ObserveFunc receives one CallInfo per HTTP request, for metrics.
type ObserveFunc func(CallInfo)

// newRequest builds a request for relPath, which is resolved against the
// versioned base URL and must therefore not start with a slash. A non-nil
// body is encoded as JSON.
func (c *Client) newRequest(ctx context.Context, method, relPath string, body any, call Call) (*http.Request, error) {
	if strings.HasPrefix(relPath, "/") {
		return nil, fmt.Errorf("partnercenter: request path %q must be relative", relPath)
	}
	u, err := c.baseURL.Parse(relPath)
	if err != nil {
		return nil, fmt.Errorf("partnercenter: invalid request path: %w", err)
	}

	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("partnercenter: encode request body: %w", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, fmt.Errorf("partnercenter: build request: %w", err)
	}

	requestID := strings.TrimSpace(call.RequestID)
	if requestID == "" {
		requestID = uuid.NewString()
	}
	correlationID := strings.TrimSpace(call.CorrelationID)
	if correlationID == "" {
		correlationID = uuid.NewString()
	}

	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(HeaderRequestID, requestID)
	req.Header.Set(HeaderCorrelationID, correlationID)
	cv := strings.TrimSpace(call.CV)
	if cv == "" {
		cv = NewCV()
	}
	req.Header.Set(HeaderCV, cv)
	req.Header.Set(HeaderLocale, locale)
	req.Header.Set("User-Agent", c.userAgent)
	if c.application != "" {
		req.Header.Set(HeaderApplication, c.application)
	}
	return req, nil
}

// responseReader is implemented by do targets that read a successful
// response themselves (from its headers, say) instead of decoding JSON.
type responseReader interface {
	readResponse(*http.Response) error
}

// do sends req, turns a non-2xx status into an error through checkResponse,
// and decodes a JSON body into v unless v is nil or a responseReader. It
// always returns a non-nil *Response, and reports the request to the
// observer exactly once, with the error do returns.
func (c *Client) do(req *http.Request, op string, v any) (*Response, error) {
	resp := &Response{
		Operation:     op,
		RequestID:     req.Header.Get(HeaderRequestID),
		CorrelationID: req.Header.Get(HeaderCorrelationID),
		RequestCV:     req.Header.Get(HeaderCV),
	}
	start := time.Now()
	err := c.roundTrip(req, op, resp, v)
	resp.Duration = time.Since(start)
	if c.observe != nil {
		c.observe(CallInfo{Operation: op, StatusCode: resp.Status(), Duration: resp.Duration, Err: err})
	}
	return resp, err
}

func (c *Client) roundTrip(req *http.Request, op string, resp *Response, v any) error {
	hr, err := c.httpClient.Do(req)
	if hr != nil {
		// On a redirect-policy error the client returns the last response
		// with its body already closed; keep it for the status code.
		resp.Response = hr
		resp.ServerRequestID = hr.Header.Get(HeaderRequestID)
		resp.ServerCorrelationID = hr.Header.Get(HeaderCorrelationID)
		resp.CV = hr.Header.Get(HeaderCV)
	}
	if err != nil {
		return &TransportError{Op: op, Err: err}
	}
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, hr.Body, 4<<10)
		_ = hr.Body.Close()
	}()

	if err := checkResponse(hr); err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			apiErr.Op = op
		}
		return err
	}
	switch v := v.(type) {
	case nil:
		return nil
	case responseReader:
		if err := v.readResponse(hr); err != nil {
			return fmt.Errorf("partnercenter: %s: %w", op, err)
		}
		return nil
	}

	body, err := io.ReadAll(io.LimitReader(hr.Body, maxResponseBody+1))
	if err != nil {
		return &TransportError{Op: op, Err: fmt.Errorf("read response body: %w", err)}
	}
	if len(body) > maxResponseBody {
		return fmt.Errorf("partnercenter: %s: %w: body exceeds %d bytes", op, ErrDecode, maxResponseBody)
	}
	if err := decodeBody(body, v); err != nil {
		return fmt.Errorf("partnercenter: %s: %w", op, err)
	}
	return nil
}

// decodeBody decodes a successful response body into v. Its errors wrap
// ErrDecode.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body", ErrDecode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return nil
}

// NewCV returns a fresh correlation vector for the MS-CV header: 16
// characters of base64 (12 random bytes) followed by ".0", the shape
// Partner Center itself produces ("iqOqN0FnaE2y0HcD.0").
func NewCV() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails.
	return base64.StdEncoding.EncodeToString(b[:]) + ".0"
}

// pathID trims an identifier and escapes it as one path segment. An empty
// identifier is an ErrInvalidArgument naming what is missing.
func pathID(op, what, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("partnercenter: %s: %w: empty %s", op, ErrInvalidArgument, what)
	}
	return url.PathEscape(id), nil
}

// subscriptionPath returns "customers/{c}/subscriptions/{s}/" + suffix with
// both identifiers escaped.
func subscriptionPath(op, customerID, subscriptionID, suffix string) (string, error) {
	c, err := pathID(op, "customer id", customerID)
	if err != nil {
		return "", err
	}
	s, err := pathID(op, "subscription id", subscriptionID)
	if err != nil {
		return "", err
	}
	return "customers/" + c + "/subscriptions/" + s + "/" + suffix, nil
}
