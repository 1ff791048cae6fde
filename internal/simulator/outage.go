package simulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// OutageScope says which endpoints an outage takes down.
type OutageScope string

const (
	// OutageAll takes down every Partner Center route and the token
	// endpoint.
	OutageAll OutageScope = "all"
	// OutageToken takes down the token endpoint alone.
	OutageToken OutageScope = "token"
)

// OutageAnswer is how a request is answered during an outage.
type OutageAnswer string

const (
	// AnswerReset closes the connection without a response, before any
	// work.
	AnswerReset OutageAnswer = "reset"
	// Answer503 answers 503 Service Unavailable (Azure AD's
	// temporarily_unavailable on the token endpoint), with Retry-After when
	// the outage sets one.
	Answer503 OutageAnswer = "503"
	// Answer500 answers 500.
	Answer500 OutageAnswer = "500"
	// Answer429 throttles the token endpoint (429 with Retry-After); only
	// for OutageToken: a 429 from Partner Center is throttling, see
	// RateLimits.
	Answer429 OutageAnswer = "429"
)

// Outage makes the endpoints of Scope stop answering during [From, To),
// measured from the simulator's creation on the unscaled clock. No work is
// done for a request it answers. Outages change no outcome: Predict is the
// same with or without them.
type Outage struct {
	From, To   time.Duration
	Scope      OutageScope
	Answer     OutageAnswer
	RetryAfter time.Duration
}

func (o Outage) validate() error {
	switch {
	case o.From < 0 || o.To <= o.From:
		return fmt.Errorf("window %s..%s is empty or negative", o.From, o.To)
	case o.Scope != OutageAll && o.Scope != OutageToken:
		return fmt.Errorf("scope %q is not all or token", o.Scope)
	case o.Answer != AnswerReset && o.Answer != Answer503 && o.Answer != Answer500 && o.Answer != Answer429:
		return fmt.Errorf("answer %q is not reset, 503, 500 or 429", o.Answer)
	case o.Answer == Answer429 && o.Scope != OutageToken:
		return fmt.Errorf("answer 429 is for scope token only (Partner Center's own 429s come from rate_limits)")
	case o.RetryAfter < 0:
		return fmt.Errorf("negative retry_after")
	}
	return nil
}

// StartOutage begins an outage now that lasts until EndOutage (From and To
// of o are ignored). It is for tests and rehearsals that decide when
// Partner Center goes away rather than planning it in the options.
func (s *Simulator) StartOutage(o Outage) error {
	o.From, o.To = 0, time.Duration(math.MaxInt64)
	if err := o.validate(); err != nil {
		return fmt.Errorf("simulator: outage: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualOutage = &o
	return nil
}

// EndOutage ends the outage StartOutage began.
func (s *Simulator) EndOutage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.manualOutage = nil
}

// outage answers req when an outage covers its route now. The caller
// holds s.mu.
func (s *Simulator) outage(rt *route, req *request) (response, effect, bool) {
	since := req.wall.Sub(s.epoch)
	var o *Outage
	if s.manualOutage != nil {
		o = s.manualOutage
	}
	for i := range s.opts.Outages {
		if w := &s.opts.Outages[i]; o == nil && since >= w.From && since < w.To {
			o = w
		}
	}
	if o == nil || (o.Scope == OutageToken && rt.op != OpToken) || (rt.family != familyPartner && rt.family != familyAAD) {
		return response{}, effectNone, false
	}
	s.outageRequests++
	if o.Answer == AnswerReset {
		return response{}, effectReset, true
	}
	status, _ := strconv.Atoi(string(o.Answer))
	var resp response
	switch {
	case rt.family == familyAAD && status == http.StatusTooManyRequests:
		resp = aadError(req, status, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop.")
	case rt.family == familyAAD:
		resp = aadError(req, status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
	default:
		resp = serverError(status, o.RetryAfter)
	}
	if o.RetryAfter > 0 {
		resp.header.Set("Retry-After", strconv.Itoa(int(math.Ceil(o.RetryAfter.Seconds()))))
	}
	return resp, effectNone, true
}
