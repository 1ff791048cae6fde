package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// statsPath serves Stats as JSON, without authentication; POST markPath
// calls Mark.
const (
	statsPath = "/_sim/stats"
	markPath  = "/_sim/mark"
)

// Stats is the ground truth of a run, as served at GET /_sim/stats.
type Stats struct {
	// Calls counts responses per operation and status code ("200",
	// "429", ...; "reset" for a connection closed without a response,
	// "499" for a client that went away during the latency).
	Calls map[string]map[string]int `json:"calls"`
	// CreatesPerCustomer counts created product upgrades, subscription
	// upgrades and transitions per lower-cased customer id (only
	// customers with at least one).
	CreatesPerCustomer map[string]int `json:"creates_per_customer"`
	// Duplicates lists what was created more than once, with the count:
	// the key is the customer id for product upgrades and
	// "customerId/subscriptionId" for subscription upgrades and
	// transitions.
	Duplicates map[string]int `json:"duplicates"`
	// RetryAfterViolations counts requests that arrived, in a rate-limit
	// scope (bucket and partner, or partner and customer), before the
	// Retry-After instant a 429 had given that scope (counted from when
	// the 429 was written; see docs/simulator.md for the grace).
	RetryAfterViolations int `json:"retry_after_violations"`
	// Unauthenticated counts Partner Center requests answered 401.
	Unauthenticated int `json:"unauthenticated"`
	// PeakConcurrency is the largest number of requests in flight at once.
	PeakConcurrency int `json:"peak_concurrency"`
	// MaxConcurrentPerItem is the largest number of requests about one
	// item (a customer, or customer/subscription for subscription
	// resources) in flight at once: 1 when no item's calls ever overlapped.
	// ConcurrentItems names the items whose calls overlapped, with their
	// peak.
	MaxConcurrentPerItem int            `json:"max_concurrent_per_item"`
	ConcurrentItems      map[string]int `json:"concurrent_items"`
	// Mark is when Mark was last called (POST /_sim/mark), and
	// FirstCallsAfterMark the arrival time of the first request about each
	// item since then (only items with one).
	Mark                *time.Time           `json:"mark,omitempty"`
	FirstCallsAfterMark map[string]time.Time `json:"first_calls_after_mark,omitempty"`
	Totals              StatsTotals          `json:"totals"`
}

// StatsTotals are run-wide totals.
type StatsTotals struct {
	Requests     int `json:"requests"`
	Creates      int `json:"creates"`
	RateLimited  int `json:"rate_limited"`
	ServerErrors int `json:"server_errors"`
	Resets       int `json:"resets"`
	Malformed    int `json:"malformed"`
	TokenOutages int `json:"token_outages"`
	// OutageRequests are the requests an Outage answered.
	OutageRequests int `json:"outage_requests"`
}

// Stats returns the ground truth so far.
func (s *Simulator) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Calls:                make(map[string]map[string]int, len(s.statuses)),
		CreatesPerCustomer:   make(map[string]int),
		Duplicates:           make(map[string]int),
		RetryAfterViolations: s.retryAfterViolations,
		Unauthenticated:      s.unauthenticated,
		PeakConcurrency:      s.peak,
		Totals: StatsTotals{
			RateLimited:    s.throttled,
			ServerErrors:   s.serverErrors,
			Resets:         s.resets,
			Malformed:      s.malformed,
			TokenOutages:   s.tokenOutages,
			OutageRequests: s.outageRequests,
		},
	}
	for op, m := range s.statuses {
		c := make(map[string]int, len(m))
		for code, n := range m {
			c[code] = n
			st.Totals.Requests += n
		}
		st.Calls[op] = c
	}
	for k, n := range s.creates {
		if n > 0 {
			st.CreatesPerCustomer[k] = n
			st.Totals.Creates += n
		}
	}
	for k, n := range s.perTarget {
		if n > 1 {
			st.Duplicates[k] = n
		}
	}
	st.ConcurrentItems = make(map[string]int)
	for k, n := range s.itemPeak {
		st.MaxConcurrentPerItem = max(st.MaxConcurrentPerItem, n)
		if n > 1 {
			st.ConcurrentItems[k] = n
		}
	}
	if !s.mark.IsZero() {
		m := s.mark
		st.Mark = &m
		st.FirstCallsAfterMark = make(map[string]time.Time, len(s.firstAfterMark))
		for k, at := range s.firstAfterMark {
			st.FirstCallsAfterMark[k] = at
		}
	}
	return st
}

// Mark starts recording, per item, the first request that arrives from
// now on (Stats.FirstCallsAfterMark), forgetting those of an earlier mark:
// for measuring how soon work resumes after an event, such as a replica
// killed.
func (s *Simulator) Mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mark = time.Now()
	clear(s.firstAfterMark)
}

// itemKey names the item a request is about: the lower-cased customer id,
// with "/" and the subscription id for subscription resources; "" for
// requests about no customer (tokens).
func itemKey(customer, subscription string) string {
	if customer == "" {
		return ""
	}
	if subscription != "" {
		return customer + "/" + strings.ToLower(subscription)
	}
	return customer
}

// enterItem counts a request about item in flight.
func (s *Simulator) enterItem(item string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.itemInflight[item]++
	s.itemPeak[item] = max(s.itemPeak[item], s.itemInflight[item])
	if !s.mark.IsZero() {
		if _, seen := s.firstAfterMark[item]; !seen {
			s.firstAfterMark[item] = time.Now()
		}
	}
}

func (s *Simulator) leaveItem(item string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.itemInflight[item]--; s.itemInflight[item] <= 0 {
		delete(s.itemInflight, item)
	}
}

func (s *Simulator) serveStats(w http.ResponseWriter) {
	body, _ := json.Marshal(s.Stats())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// recordStatus counts a response.
func (s *Simulator) recordStatus(op, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.statuses[op]
	if m == nil {
		m = make(map[string]int)
		s.statuses[op] = m
	}
	m[code]++
}

// recordCreate counts a created resource for customer under the duplicate
// key target. The caller holds s.mu.
func (s *Simulator) recordCreate(customer, target string) {
	s.creates[customer]++
	s.perTarget[target]++
}

func (s *Simulator) enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight++
	s.peak = max(s.peak, s.inflight)
}

func (s *Simulator) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
}

// tokenOutage answers a token request with 503 when it falls in the
// configured outage. The caller holds s.mu.
func (s *Simulator) tokenOutage(req *request, key string) (response, bool) {
	o := s.opts.TokenOutage
	since := req.wall.Sub(s.epoch)
	down := o.To > 0 && since >= o.From && since < o.To
	if !down && o.Share > 0 {
		down = s.draw(key, "token-outage") < o.Share
	}
	if !down {
		return response{}, false
	}
	s.tokenOutages++
	resp := aadError(req, http.StatusServiceUnavailable, "temporarily_unavailable", 90033,
		"A transient error has occurred. Please try again.")
	if o.RetryAfter > 0 {
		resp.header.Set("Retry-After", fmt.Sprint(int(math.Ceil(o.RetryAfter.Seconds()))))
	}
	return resp, true
}
