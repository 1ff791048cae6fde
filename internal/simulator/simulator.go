package simulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxBodyBytes caps request bodies.
const maxBodyBytes = 1 << 20

// force is an outcome forced by one of the explicit id lists; the zero
// value means none.
type force int

const (
	forceIneligible force = iota + 1
	forceFailing
	forceSucceeding
)

// Simulator is an in-memory Partner Center and Azure AD token service. It is
// an http.Handler and safe for concurrent use.
type Simulator struct {
	opts     Options
	forced   map[string]force // lower-cased customer id -> forced outcome
	serverID string
	routes   []route

	mu              sync.Mutex
	requests        map[string]int
	tokens          map[string]accessToken
	refreshTokens   map[string]*refreshToken
	rotations       []RefreshRotation
	revokedFamilies map[string]bool
	redeemedCodes   map[string]struct{}
	upgrades        []*upgrade            // in creation order
	upgradeByID     map[string]*upgrade   // lower-cased id
	byCustomer      map[string][]*upgrade // lower-cased customer id, in creation order
	idempotency     map[string]idempotencyEntry
	epoch           time.Time // unscaled clock at creation

	subUpgrades map[string]*subscriptionUpgrade // lower-cased customer/subscription
	transitions map[string][]*transition        // lower-cased customer/subscription, in creation order
	creates     map[string]int                  // lower-cased customer -> creates of any kind
	perTarget   map[string]int                  // duplicate key -> creates

	buckets              map[string]*bucket
	attempts             map[string]int
	counters             map[string]int
	statuses             map[string]map[string]int
	unauthenticated      int
	retryAfterViolations int
	throttled            int
	serverErrors         int
	resets               int
	malformed            int
	tokenOutages         int
	outageRequests       int
	manualOutage         *Outage // StartOutage's, until EndOutage
	inflight, peak       int
	// items tracks the calls about each item (customer, or
	// customer/subscription) in flight, and the peak per item; mark and
	// firstAfterMark the first call about each item after Mark.
	itemInflight   map[string]int
	itemPeak       map[string]int
	mark           time.Time
	firstAfterMark map[string]time.Time
}

// New returns a Simulator, or an error when opts are invalid.
func New(opts Options) (*Simulator, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		opts:            o,
		forced:          make(map[string]force),
		routes:          routes(),
		requests:        make(map[string]int),
		tokens:          make(map[string]accessToken),
		refreshTokens:   make(map[string]*refreshToken),
		redeemedCodes:   make(map[string]struct{}),
		revokedFamilies: make(map[string]bool),
		upgradeByID:     make(map[string]*upgrade),
		byCustomer:      make(map[string][]*upgrade),
		idempotency:     make(map[string]idempotencyEntry),
		subUpgrades:     make(map[string]*subscriptionUpgrade),
		transitions:     make(map[string][]*transition),
		creates:         make(map[string]int),
		perTarget:       make(map[string]int),
		buckets:         make(map[string]*bucket),
		attempts:        make(map[string]int),
		counters:        make(map[string]int),
		statuses:        make(map[string]map[string]int),
		itemInflight:    make(map[string]int),
		itemPeak:        make(map[string]int),
		firstAfterMark:  make(map[string]time.Time),
	}
	s.epoch = o.Now()
	for _, list := range []struct {
		ids []string
		f   force
	}{{o.Ineligible, forceIneligible}, {o.Failing, forceFailing}, {o.Succeeding, forceSucceeding}} {
		for _, id := range list.ids {
			s.forced[strings.ToLower(id)] = list.f
		}
	}
	sum := s.digest("", "server-id")
	s.serverID = fmt.Sprintf("%09d", binary.BigEndian.Uint64(sum[:8])%1_000_000_000)
	return s, nil
}

// UpgradeRecord is the ground truth about one product upgrade.
type UpgradeRecord struct {
	ID            string
	CustomerID    string // lower-cased
	ProductFamily string // "Azure"
	CreatedAt     time.Time
	// Status is the status at the time of the call: InProgress, Completed
	// or Failed.
	Status string
	// CreateRequests is the number of upgrades created for this customer
	// so far (CreatedCount(CustomerID)). Create calls that were rejected
	// (409, 400, 403) or replayed are not counted; more than 1 means the
	// customer was upgraded more than once.
	CreateRequests int
}

// Upgrades returns every upgrade ever created, in creation order.
func (s *Simulator) Upgrades() []UpgradeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]UpgradeRecord, len(s.upgrades))
	for i, u := range s.upgrades {
		out[i] = UpgradeRecord{
			ID:             u.id,
			CustomerID:     u.customerID,
			ProductFamily:  u.productFamily,
			CreatedAt:      u.createdAt,
			Status:         u.status(now),
			CreateRequests: len(s.byCustomer[u.customerID]),
		}
	}
	return out
}

// CreatedCount returns how many upgrades were created for customerID
// (compared case-insensitively). An exactly-once client never makes it
// exceed 1.
func (s *Simulator) CreatedCount(customerID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byCustomer[strings.ToLower(customerID)])
}

// Requests returns the number of requests served per operation (the Op*
// constants). A response replayed for a repeated MS-RequestId is counted
// under "<op>_replayed" instead of "<op>". Requests rejected before the
// operation ran (401, 403, 400) count as the operation.
func (s *Simulator) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// request is what a handler sees of an HTTP request.
type request struct {
	method string
	path   string
	header http.Header
	body   []byte
	params map[string]string
	query  url.Values
	// customer is the lower-cased customer id of the path or body, or "".
	customer string
	// wall is the unscaled clock (rate limits, outages).
	wall time.Time
	// throttledKey and retrySecs are set when the request got a 429.
	throttledKey string
	retrySecs    int
	// clientRequestID is the MS-RequestId the client sent, or "".
	clientRequestID string
	token           accessToken
	now             time.Time
}

// response is a complete HTTP response, kept whole so it can be replayed.
type response struct {
	status int
	header http.Header
	body   []byte
}

// ServeHTTP implements http.Handler.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.EqualFold(strings.TrimRight(r.URL.Path, "/"), statsPath) {
		s.serveStats(w)
		return
	}
	if r.Method == http.MethodPost && strings.EqualFold(strings.TrimRight(r.URL.Path, "/"), markPath) {
		s.Mark()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.enter()
	defer s.leave()

	info := infoFrom(r.Context())
	rt, params, allowed := s.match(r.Method, r.URL.Path)
	if rt == nil {
		s.mu.Lock()
		s.requests[OpUnrouted]++
		s.mu.Unlock()
		info.set(OpUnrouted, false)
		fam := familyPartner
		if len(allowed) > 0 {
			fam = pathFamily(r.URL.Path)
		}
		resp := s.unrouted(fam, r, allowed)
		s.recordStatus(OpUnrouted, strconv.Itoa(resp.status))
		s.write(w, s.traceHeaders(fam, r), resp)
		return
	}

	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	req := &request{
		method:          r.Method,
		path:            r.URL.Path,
		query:           r.URL.Query(),
		header:          r.Header,
		body:            body,
		params:          params,
		clientRequestID: strings.TrimSpace(r.Header.Get("MS-RequestId")),
	}
	req.customer = strings.ToLower(params["customerId"])
	if req.customer == "" && rt.family == familyPartner {
		var c struct{ CustomerID string }
		_ = json.Unmarshal(body, &c)
		req.customer = strings.ToLower(strings.TrimSpace(c.CustomerID))
	}
	trace := s.traceHeaders(rt.family, r)
	if item := itemKey(req.customer, params["subscriptionId"]); item != "" {
		s.enterItem(item)
		defer s.leaveItem(item)
	}

	s.mu.Lock()
	req.now = s.now()
	req.wall = s.opts.Now()
	key := s.attemptKey(rt.op, req)
	resp, replayed, eff := s.serve(rt, req, readErr, key)
	s.mu.Unlock()
	info.set(rt.op, replayed)

	if !sleep(r, s.latency(rt.op, key)) {
		s.recordStatus(rt.op, "499")
		return // the client went away; the work is done regardless
	}
	switch eff {
	case effectReset:
		if reset(w) {
			s.recordStatus(rt.op, "reset")
			return
		}
	case effect500, effect503:
		status := http.StatusInternalServerError
		if eff == effect503 {
			status = http.StatusServiceUnavailable
		}
		resp = serverError(status, 0)
		s.mu.Lock()
		s.serverErrors++
		s.mu.Unlock()
	case effectMalformed:
		if len(resp.body) > 1 {
			resp.body = resp.body[:len(resp.body)/2]
			s.mu.Lock()
			s.malformed++
			s.mu.Unlock()
		}
	}
	s.recordStatus(rt.op, strconv.Itoa(resp.status))
	s.write(w, trace, resp)
	if req.throttledKey != "" {
		s.told(req.throttledKey, req.retrySecs, s.opts.Now())
	}
}

// serve runs a routed request: token outage, authentication, rate limit,
// injected server errors and resets, then the operation. The caller holds
// s.mu.
func (s *Simulator) serve(rt *route, req *request, readErr error, key string) (resp response, replayed bool, eff effect) {
	f := s.fault(rt.op)
	if resp, eff, down := s.outage(rt, req); down {
		s.requests[rt.op]++
		return resp, false, eff
	}
	if rt.op == OpToken {
		if resp, down := s.tokenOutage(req, key); down {
			s.requests[rt.op]++
			return resp, false, effectNone
		}
	}
	if rt.auth != authNone {
		if resp, ok := s.authenticate(rt, req); !ok {
			s.requests[rt.op]++
			if resp.status == http.StatusUnauthorized {
				s.unauthenticated++
			}
			return resp, false, effectNone
		}
	}
	if rt.family == familyPartner {
		if resp, ok := s.throttle(rt.op, req); !ok {
			s.requests[rt.op]++
			return resp, false, effectNone
		}
	}
	u := s.draw(key, "fault/"+rt.op)
	switch {
	case u < f.Share500:
		s.requests[rt.op]++
		s.serverErrors++
		if rt.family == familyAAD {
			return aadError(req, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again."), false, effectNone
		}
		return serverError(http.StatusInternalServerError, 0), false, effectNone
	case u < f.Share500+f.Share503:
		s.requests[rt.op]++
		s.serverErrors++
		if rt.family == familyAAD {
			resp := aadError(req, http.StatusServiceUnavailable, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
			if f.RetryAfter503 > 0 {
				resp.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter503.Seconds()))))
			}
			return resp, false, effectNone
		}
		return serverError(http.StatusServiceUnavailable, f.RetryAfter503), false, effectNone
	case u < f.Share500+f.Share503+f.ResetShare:
		s.requests[rt.op]++
		s.resets++
		return response{}, false, effectReset
	}
	switch after := s.draw(key, "fault/after/"+rt.op); {
	case after < f.ResetAfterWorkShare:
		eff = effectReset
		s.resets++
	case after < f.ResetAfterWorkShare+f.Share500AfterWork:
		eff = effect500
	case after < f.ResetAfterWorkShare+f.Share500AfterWork+f.Share503AfterWork:
		eff = effect503
	default:
		if s.draw(key, "fault/malformed/"+rt.op) < f.MalformedShare {
			eff = effectMalformed
		}
	}

	if readErr != nil {
		s.requests[rt.op]++
		if rt.family == familyAAD {
			return aadError(req, http.StatusBadRequest, "invalid_request", 900144, "The request body could not be read."), false, eff
		}
		return partnerError(http.StatusBadRequest, codeInvalidInput, descInvalidInput+": the request body could not be read."), false, eff
	}
	remember := rt.idempotent && req.clientRequestID != ""
	if remember {
		if resp, replayed, found := s.replay(req); found {
			if replayed {
				s.requests[rt.op+"_replayed"]++
			} else {
				s.requests[rt.op]++
			}
			return resp, replayed, eff
		}
	}
	s.requests[rt.op]++
	resp = rt.handle(s, req)
	if remember {
		s.store(req, resp)
	}
	return resp, false, eff
}

// now is the simulated time: Options.Now run ClockSpeedup times faster
// from the simulator's creation.
func (s *Simulator) now() time.Time {
	t := s.opts.Now()
	if s.opts.ClockSpeedup == 1 {
		return t
	}
	return s.epoch.Add(time.Duration(float64(t.Sub(s.epoch)) * s.opts.ClockSpeedup))
}

// unrouted answers a request no route serves: 405 (in the shape of the
// path's family) when the path exists with another method, otherwise a
// Partner Center 404.
func (s *Simulator) unrouted(fam family, r *http.Request, allowed []string) response {
	req := &request{method: r.Method, path: r.URL.Path, header: r.Header, now: s.now()}
	if len(allowed) > 0 {
		var resp response
		if fam == familyAAD {
			resp = aadError(req, http.StatusMethodNotAllowed, "invalid_request", 900561,
				fmt.Sprintf("The endpoint only accepts %s requests. Received a %s request.", strings.Join(allowed, ", "), r.Method))
		} else {
			resp = partnerError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
				fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method))
		}
		resp.header.Set("Allow", strings.Join(allowed, ", "))
		return resp
	}
	return partnerError(http.StatusNotFound, codeNotFound, descNotFound)
}

// traceHeaders returns the tracing headers of a response to r.
func (s *Simulator) traceHeaders(fam family, r *http.Request) http.Header {
	h := http.Header{}
	if fam == familyAAD {
		h.Set("Cache-Control", "no-store, no-cache")
		h.Set("Pragma", "no-cache")
		h.Set("X-Ms-Request-Id", newGUID())
		if v := r.Header.Get("Client-Request-Id"); v != "" {
			h.Set("Client-Request-Id", v)
		}
		return h
	}
	h.Set("MS-RequestId", headerOr(r, "MS-RequestId", newGUID))
	h.Set("MS-CorrelationId", headerOr(r, "MS-CorrelationId", newGUID))
	h.Set("MS-CV", headerOr(r, "MS-CV", newCV))
	h.Set("MS-ServerId", s.serverID)
	return h
}

// write sends resp with the tracing headers.
func (s *Simulator) write(w http.ResponseWriter, trace http.Header, resp response) {
	h := w.Header()
	for k, v := range trace {
		h[k] = v
	}
	for k, v := range resp.header {
		h[k] = append([]string(nil), v...)
	}
	h.Set("Content-Length", fmt.Sprint(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// sleep waits d unless the request is cancelled first; it reports whether
// the full delay elapsed.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func headerOr(r *http.Request, name string, generate func() string) string {
	if v := strings.TrimSpace(r.Header.Get(name)); v != "" {
		return v
	}
	return generate()
}

// newCV returns a correlation vector like "iqOqN0FnaE2y0HcD.0".
func newCV() string {
	return base64.RawStdEncoding.EncodeToString(randomBytes(12)) + ".0"
}

func newGUID() string { return uuid.NewString() }

// opaque returns an unguessable token string.
func opaque(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}
