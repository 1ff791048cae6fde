package simulator

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Credentials are an Azure AD client id and secret.
type Credentials struct {
	ClientID     string
	ClientSecret string
}

// RateScope says whose requests share a token bucket.
type RateScope string

const (
	// ScopePartner: one bucket per partner tenant (the tenant the access
	// token was issued for).
	ScopePartner RateScope = "partner"
	// ScopePartnerCustomer: one bucket per partner tenant and customer.
	ScopePartnerCustomer RateScope = "partner_customer"
)

// RateLimit is a token bucket: Limit requests per Per, refilled
// continuously, starting full. Operations naming the same Bucket share one
// (the default bucket is the operation name).
type RateLimit struct {
	Limit  int
	Per    time.Duration
	Scope  RateScope
	Bucket string
}

// Documented and assumed rate limits.
const (
	// SubscriptionRateLimit is the documented limit of the subscription
	// resource: 500 requests per minute per tenant identifier. The
	// simulator applies it per partner and customer tenant to the
	// subscription-upgrade and transition routes, in one shared bucket.
	SubscriptionRateLimit = 500
	// ProductUpgradeRateLimit is an assumption: no figure is published for
	// the product-upgrade endpoints. Each of eligibility, create and status
	// gets 300 requests per minute per partner.
	ProductUpgradeRateLimit = 300
)

// DefaultRateLimits returns the documented limits (subscription routes) and
// the assumed ones (product upgrades).
func DefaultRateLimits() map[string]RateLimit {
	sub := RateLimit{Limit: SubscriptionRateLimit, Per: time.Minute, Scope: ScopePartnerCustomer, Bucket: "subscriptions"}
	pu := RateLimit{Limit: ProductUpgradeRateLimit, Per: time.Minute, Scope: ScopePartner}
	return map[string]RateLimit{
		OpSubscriptionUpgrades:      sub,
		OpSubscriptionUpgradeCreate: sub,
		OpTransitionEligibilities:   sub,
		OpTransitionCreate:          sub,
		OpTransitions:               sub,
		OpProductUpgradeEligibility: pu,
		OpProductUpgradeCreate:      pu,
		OpProductUpgradeStatus:      pu,
	}
}

// LatencySpec is a response delay distribution. Exactly one form is used:
// Fixed; Min..Max (uniform); Mean with StdDev (normal, clamped at zero).
// The draw is deterministic per request.
type LatencySpec struct {
	Fixed    time.Duration
	Min, Max time.Duration
	Mean     time.Duration
	StdDev   time.Duration
}

func (l LatencySpec) zero() bool { return l == LatencySpec{} }

// Fault configures failures of one operation. Shares are in [0,1] and are
// decided per request, deterministically from the seed and the request's
// MS-RequestId and attempt number (or a per-operation counter when the
// request has none), so a retry of a failed request can succeed.
type Fault struct {
	// Share500 and Share503 answer with a standard error body before any
	// work. A 503 carries Retry-After when RetryAfter503 is set.
	Share500      float64
	Share503      float64
	RetryAfter503 time.Duration
	// ResetShare closes the connection without a response before any
	// work; ResetAfterWorkShare does so after the work was done and
	// recorded (a lost response).
	ResetShare          float64
	ResetAfterWorkShare float64
	// MalformedShare sends the real status with the JSON body truncated
	// (after the work was done). Only responses with a body are affected.
	MalformedShare float64
	// Share500AfterWork and Share503AfterWork answer 500 or 503 (standard
	// error body) after the work was done and recorded: the real response
	// is stored for MS-RequestId replay but never sent.
	Share500AfterWork float64
	Share503AfterWork float64
	// Latency delays the response.
	Latency LatencySpec
}

// TokenOutage makes the token endpoint answer 503 (Azure AD
// temporarily_unavailable) during [From, To) measured from the start of the
// simulator on the unscaled clock (To zero: no window), and for a share of
// the other requests.
type TokenOutage struct {
	From, To   time.Duration
	Share      float64
	RetryAfter time.Duration
}

func (o *Options) normalizeFaults() []error {
	var errs []error
	share := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s %v is outside [0,1]", name, v))
		}
	}
	limits := make(map[string]RateLimit, len(o.RateLimits))
	for op, rl := range o.RateLimits {
		if !knownOperation(op) || op == OpToken {
			errs = append(errs, fmt.Errorf("RateLimits: unknown operation %q", op))
			continue
		}
		if rl.Limit < 0 || rl.Per < 0 {
			errs = append(errs, fmt.Errorf("RateLimits[%s]: negative limit or period", op))
			continue
		}
		if rl.Limit == 0 {
			continue // disabled
		}
		if rl.Per == 0 {
			rl.Per = time.Minute
		}
		switch rl.Scope {
		case "":
			rl.Scope = ScopePartner
		case ScopePartner, ScopePartnerCustomer:
		default:
			errs = append(errs, fmt.Errorf("RateLimits[%s]: unknown scope %q (partner, partner_customer)", op, rl.Scope))
		}
		if rl.Bucket == "" {
			rl.Bucket = op
		}
		limits[op] = rl
	}
	o.RateLimits = limits

	faults := make(map[string]Fault, len(o.Faults))
	for op, f := range o.Faults {
		if op != "*" && !knownOperation(op) {
			errs = append(errs, fmt.Errorf("Faults: unknown operation %q", op))
			continue
		}
		share("Faults["+op+"].Share500", f.Share500)
		share("Faults["+op+"].Share503", f.Share503)
		share("Faults["+op+"].ResetShare", f.ResetShare)
		share("Faults["+op+"].ResetAfterWorkShare", f.ResetAfterWorkShare)
		share("Faults["+op+"].MalformedShare", f.MalformedShare)
		share("Faults["+op+"].Share500AfterWork", f.Share500AfterWork)
		share("Faults["+op+"].Share503AfterWork", f.Share503AfterWork)
		if f.ResetAfterWorkShare+f.Share500AfterWork+f.Share503AfterWork > 1 {
			errs = append(errs, fmt.Errorf("Faults[%s]: ResetAfterWorkShare+Share500AfterWork+Share503AfterWork exceeds 1", op))
		}
		if f.Share500+f.Share503+f.ResetShare > 1 {
			errs = append(errs, fmt.Errorf("Faults[%s]: Share500+Share503+ResetShare exceeds 1", op))
		}
		l := f.Latency
		if l.Fixed < 0 || l.Min < 0 || l.Max < 0 || l.Mean < 0 || l.StdDev < 0 || (l.Max != 0 && l.Max < l.Min) || f.RetryAfter503 < 0 {
			errs = append(errs, fmt.Errorf("Faults[%s]: invalid durations", op))
		}
		faults[op] = f
	}
	o.Faults = faults
	share("TokenOutage.Share", o.TokenOutage.Share)
	if o.TokenOutage.To < o.TokenOutage.From || o.TokenOutage.From < 0 || o.TokenOutage.RetryAfter < 0 {
		errs = append(errs, fmt.Errorf("TokenOutage: invalid window %s..%s", o.TokenOutage.From, o.TokenOutage.To))
	}
	for i, out := range o.Outages {
		if err := out.validate(); err != nil {
			errs = append(errs, fmt.Errorf("Outages[%d]: %w", i, err))
		}
	}
	return errs
}

// fault returns the fault configuration of op.
func (s *Simulator) fault(op string) Fault {
	if f, ok := s.opts.Faults[op]; ok {
		return f
	}
	if op == OpToken || op == OpUnrouted {
		return Fault{}
	}
	return s.opts.Faults["*"]
}

// bucket is one token bucket.
type bucket struct {
	tokens float64
	last   time.Time
	// toldAt is when the 429 that set retryAt was written; retryAt is the
	// earliest Retry-After instant still pending for this scope.
	toldAt, retryAt time.Time
}

// retryAfterGrace: requests arriving within this time after a 429 was
// written are taken as already in flight, not as Retry-After violations.
const retryAfterGrace = 100 * time.Millisecond

// told records that a 429 with Retry-After secs was written to scope key
// at the instant at. A violation is a request arriving in the scope after
// at (plus retryAfterGrace) and before the earliest pending Retry-After
// instant; a later 429 never extends a pending instant.
func (s *Simulator) told(key string, secs int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[key]
	deadline := at.Add(time.Duration(secs) * time.Second)
	if !at.Before(b.retryAt) {
		b.toldAt, b.retryAt = at, deadline
	} else if deadline.Before(b.retryAt) {
		b.retryAt = deadline
	}
}

// rateKey is the bucket key of a request, or "" when op is not limited.
func (s *Simulator) rateKey(op string, req *request) (string, RateLimit) {
	rl, ok := s.opts.RateLimits[op]
	if !ok {
		return "", rl
	}
	key := rl.Bucket + "|" + req.token.tenant
	if rl.Scope == ScopePartnerCustomer {
		key += "|" + req.customer
	}
	return key, rl
}

// throttle takes a token for the request, or returns the 429. It also
// counts requests that arrive before a Retry-After the scope was given.
// The caller holds s.mu.
func (s *Simulator) throttle(op string, req *request) (response, bool) {
	key, rl := s.rateKey(op, req)
	if key == "" {
		return response{}, true
	}
	now := req.wall
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(rl.Limit), last: now}
		s.buckets[key] = b
	}
	if !now.Before(b.toldAt.Add(retryAfterGrace)) && now.Before(b.retryAt) {
		s.retryAfterViolations++
	}
	rate := float64(rl.Limit) / rl.Per.Seconds() // tokens per second
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(rl.Limit), b.tokens+el*rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return response{}, true
	}
	wait := (1 - b.tokens) / rate
	secs := int(math.Ceil(wait))
	if secs < 1 {
		secs = 1
	}
	req.throttledKey, req.retrySecs = key, secs
	s.throttled++
	return tooManyRequests(secs), false
}

// tooManyRequests is the documented 429 answer.
func tooManyRequests(secs int) response {
	body := fmt.Sprintf(`{"statusCode":429,"message":"Rate limit is exceeded. Try again in %d seconds."}`, secs)
	return response{
		status: http.StatusTooManyRequests,
		header: http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Retry-After": {strconv.Itoa(secs)}},
		body:   []byte(body),
	}
}

// effect is what happens to the response of a request.
type effect int

const (
	effectNone effect = iota
	effectReset
	effectMalformed
	// effect500 and effect503 send a server error instead of the response
	// of work that was done.
	effect500
	effect503
)

// attemptKey names this attempt of a request for the fault draws: the
// MS-RequestId and how often it was seen, or a per-operation counter. The
// caller holds s.mu.
func (s *Simulator) attemptKey(op string, req *request) string {
	if req.clientRequestID != "" {
		k := op + "|" + strings.ToLower(req.clientRequestID)
		n := s.attempts[k]
		s.attempts[k] = n + 1
		return k + "#" + strconv.Itoa(n)
	}
	n := s.counters[op]
	s.counters[op] = n + 1
	return op + "#" + strconv.Itoa(n)
}

// latency draws the delay of a request.
func (s *Simulator) latency(op, key string) time.Duration {
	l := s.fault(op).Latency
	if l.zero() {
		return s.opts.Latency[op]
	}
	switch {
	case l.Fixed > 0:
		return l.Fixed
	case l.Max > 0:
		return l.Min + time.Duration(s.draw(key, "latency")*float64(l.Max-l.Min))
	case l.Mean > 0 || l.StdDev > 0:
		u1 := math.Max(s.draw(key, "latency-1"), 1e-12)
		u2 := s.draw(key, "latency-2")
		z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		return max(0, l.Mean+time.Duration(z*float64(l.StdDev)))
	}
	return l.Min
}

// reset closes the connection under w without a response. It reports
// whether that was possible; if not, the caller answers normally.
func reset(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // send RST instead of FIN
	}
	_ = conn.Close()
	return true
}

// serverError is a 500 or 503 with the standard error body.
func serverError(status int, retryAfter time.Duration) response {
	if status == http.StatusServiceUnavailable {
		resp := partnerError(status, codeServiceUnavailable, descServiceUnavailable)
		if retryAfter > 0 {
			resp.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
		}
		return resp
	}
	return partnerError(http.StatusInternalServerError, codeUnexpectedError, descUnexpectedError)
}
