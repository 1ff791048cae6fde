// Package metrics defines the orchestrator's Prometheus metrics, the
// contract of docs/metrics.md. Everything is registered on the registry
// passed to New; nothing is global. Labels never carry customer,
// subscription or upgrade ids.
package metrics

import (
	"errors"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pcupgrade/orchestrator/internal/partnercenter"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// OpToken is the operation label of requests to the OAuth2 token endpoint.
const OpToken = "token"

// Operations are the operation label values of orchestrator_partnercenter_*:
// every client operation and the token endpoint.
var Operations = []string{
	partnercenter.OpProductUpgradeEligibility,
	partnercenter.OpProductUpgradeCreate,
	partnercenter.OpProductUpgradeStatus,
	partnercenter.OpSubscriptionUpgradeList,
	partnercenter.OpSubscriptionUpgradePerform,
	partnercenter.OpTransitionEligibility,
	partnercenter.OpTransitionCreate,
	partnercenter.OpTransitionList,
	OpToken,
}

// StatusClasses are the status_class label values.
var StatusClasses = []string{"2xx", "4xx", "429", "5xx", "error"}

// Error codes of the orchestrator's own, pre-initialised on
// orchestrator_items_failed_total.
const (
	CodeMaxAttempts = "max_attempts"
	CodeTransport   = "transport"
	CodeUnknown     = "unknown"
	// CodeInternalError: an item whose job kept vanishing (see
	// ObservePoisoned).
	CodeInternalError = "internal_error"
)

// Metrics holds the collectors the service updates directly.
type Metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	throttled   *prometheus.CounterVec
	retryAfter  *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	transitions *prometheus.CounterVec
	failed      *prometheus.CounterVec
	alertAfter  prometheus.Gauge
	poisoned    *prometheus.CounterVec
	attention   *prometheus.CounterVec
	unrecorded  *prometheus.CounterVec
	declared    prometheus.Counter
	handedBack  prometheus.Counter
	configured  *prometheus.GaugeVec
}

// New creates the metrics and registers them, with build info and the Go
// and process collectors, on reg. Every counter starts at zero for each
// label combination known in advance.
func New(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_partnercenter_requests_total",
			Help: "Partner Center (and token endpoint) requests sent, by operation and status class (2xx, 4xx, 429, 5xx, or error when no answer arrived).",
		}, []string{"operation", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orchestrator_partnercenter_request_duration_seconds",
			Help:    "Time from sending a Partner Center request to having read its answer (or giving up), by operation.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_partnercenter_throttled_total",
			Help: "Partner Center answers 429 Too Many Requests, by operation.",
		}, []string{"operation"}),
		retryAfter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_partnercenter_retry_after_seconds_total",
			Help: "Seconds of Retry-After honoured: the sum of the waits 429 answers imposed, by operation.",
		}, []string{"operation"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_token_refreshes_total",
			Help: "OAuth2 token acquisitions (client credentials or refresh-token grant), by result.",
		}, []string{"result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_item_transitions_total",
			Help: "Items reaching a status, counted by the process that made the transition.",
		}, []string{"operation", "status"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_items_failed_total",
			Help: "Items that reached failed, by operation and the error code recorded on the item.",
		}, []string{"operation", "error_code"}),
		alertAfter: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orchestrator_outage_alert_after_seconds",
			Help: "outage.alert_after: how long an outage hold may last before the PartnerCenterUnavailable alert fires.",
		}),
		poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_items_poisoned_total",
			Help: "Items failed with internal_error because their job kept vanishing (discarded after its attempts, a panic) past reconcile.max_requeues, by operation.",
		}, []string{"operation"}),
		attention: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_items_attention_total",
			Help: "Items flagged for attention (completed only in part, or reporting a status the service does not know), by operation and the error code recorded on the item.",
		}, []string{"operation", "error_code"}),
		unrecorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_call_record_failures_total",
			Help: "Partner Center calls whose api_calls row could not be written after retries; each failed its job, which repeats the call with the same MS-RequestId.",
		}, []string{"operation"}),
		declared: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_processes_declared_dead_total",
			Help: "Serve processes this process declared dead because they stopped beating for workers.dead_after.",
		}),
		handedBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orchestrator_jobs_handed_back_total",
			Help: "River jobs that were running in a process declared dead, handed back to the queue by this process.",
		}),
		configured: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orchestrator_rate_limit_configured_per_second",
			Help: "Calls per second rate_limits.limits allows each limit (calls ÷ per, before headroom), as this process is configured.",
		}, []string{"limit"}),
	}
	for _, op := range Operations {
		for _, class := range StatusClasses {
			m.requests.WithLabelValues(op, class)
		}
		m.latency.WithLabelValues(op)
		m.throttled.WithLabelValues(op)
		m.retryAfter.WithLabelValues(op)
		if op != OpToken {
			m.unrecorded.WithLabelValues(op)
		}
	}
	for _, r := range []string{"success", "failure"} {
		m.tokens.WithLabelValues(r)
	}
	for _, op := range upgrade.Operations() {
		for _, st := range upgrade.Statuses() {
			m.transitions.WithLabelValues(string(op), string(st))
		}
		for _, code := range []string{CodeMaxAttempts, CodeTransport, CodeUnknown, CodeInternalError} {
			m.failed.WithLabelValues(string(op), code)
		}
		m.poisoned.WithLabelValues(string(op))
		for _, code := range AttentionCodes(op) {
			m.attention.WithLabelValues(string(op), code)
		}
	}

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "orchestrator_build_info",
		Help: "Build information; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)

	for _, c := range []prometheus.Collector{
		m.requests, m.latency, m.throttled, m.retryAfter, m.tokens, m.transitions, m.failed, m.alertAfter, m.poisoned, m.attention, m.unrecorded,
		m.declared, m.handedBack, m.configured, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("register metrics"), err)
		}
	}
	return m, nil
}

// SetOutageAlertAfter exports outage.alert_after for the alert rule.
func (m *Metrics) SetOutageAlertAfter(d time.Duration) {
	m.alertAfter.Set(d.Seconds())
}

// SetConfiguredRates exports each rate limit's configured rate, calls per
// second, by the limit's name (ratelimit.Governor.ConfiguredRates).
func (m *Metrics) SetConfiguredRates(rates map[string]float64) {
	for name, v := range rates {
		m.configured.WithLabelValues(name).Set(v)
	}
}

// ObservePartnerCenterCall records one Partner Center request. status is 0
// when no response arrived.
func (m *Metrics) ObservePartnerCenterCall(operation string, status int, d time.Duration) {
	m.requests.WithLabelValues(operation, statusClass(status)).Inc()
	m.latency.WithLabelValues(operation).Observe(d.Seconds())
	if status == 429 {
		m.throttled.WithLabelValues(operation).Inc()
	}
}

// ObserveCall records one Partner Center request as the client reports it
// (partnercenter.WithObserver), including the Retry-After of a 429.
func (m *Metrics) ObserveCall(ci partnercenter.CallInfo) {
	m.ObservePartnerCenterCall(ci.Operation, ci.StatusCode, ci.Duration)
	if wait, ok := partnercenter.IsRateLimited(ci.Err); ok {
		m.retryAfter.WithLabelValues(ci.Operation).Add(wait.Seconds())
	}
}

// ObserveToken records one token acquisition (partnercenter
// Credentials.OnToken): a request to the token endpoint and its result.
func (m *Metrics) ObserveToken(ti partnercenter.TokenInfo) {
	m.ObservePartnerCenterCall(OpToken, ti.StatusCode, ti.Duration)
	result := "success"
	if ti.Err != nil {
		result = "failure"
	}
	m.tokens.WithLabelValues(result).Inc()
}

// ObserveItem records an item status change (jobs.Deps.Observe).
func (m *Metrics) ObserveItem(op upgrade.Operation, to upgrade.Status, errorCode string) {
	m.transitions.WithLabelValues(string(op), string(to)).Inc()
	if to == upgrade.StatusFailed {
		m.failed.WithLabelValues(string(op), ErrorCodeLabel(errorCode)).Inc()
	}
}

// ObservePoisoned records an item failed because its job kept vanishing
// (jobs.Deps.ObservePoisoned). Its failed transition is observed through
// ObserveItem as well.
func (m *Metrics) ObservePoisoned(op upgrade.Operation) {
	m.poisoned.WithLabelValues(string(op)).Inc()
}

// ObserveAttention records an item flagged for attention
// (jobs.Deps.ObserveAttention).
func (m *Metrics) ObserveAttention(op upgrade.Operation, errorCode string) {
	m.attention.WithLabelValues(string(op), ErrorCodeLabel(errorCode)).Inc()
}

// AttentionCodes are the orchestrator's own codes an item of op can be
// flagged for attention with, pre-initialised on
// orchestrator_items_attention_total (Partner Center's codes appear as they
// come).
func AttentionCodes(op upgrade.Operation) []string {
	switch op {
	case upgrade.ProductUpgrade:
		return []string{"line_items_failed", "unknown_status"}
	case upgrade.SubscriptionUpgrade:
		return []string{"license_errors"}
	case upgrade.Transition:
		return []string{"events_failed", "unknown_status"}
	default:
		return nil
	}
}

// ObserveRecordFailure counts a Partner Center call that could not be
// recorded (jobs.Deps.ObserveRecordFailure).
func (m *Metrics) ObserveRecordFailure(operation string) {
	m.unrecorded.WithLabelValues(operation).Inc()
}

// ObserveDeclaredDead records processes this one declared dead and the
// jobs it handed back from them (heartbeat.New's onDeclared).
func (m *Metrics) ObserveDeclaredDead(dead []store.DeadProcess) {
	for _, p := range dead {
		m.declared.Inc()
		m.handedBack.Add(float64(p.JobsHandedBack))
	}
}

var boundedCode = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,40}$`)

// ErrorCodeLabel keeps error_code bounded: Partner Center's codes and the
// orchestrator's own (short identifiers) are kept; anything empty, longer
// than 40 characters or with other characters becomes "unknown".
func ErrorCodeLabel(code string) string {
	if !boundedCode.MatchString(code) {
		return CodeUnknown
	}
	return code
}

func statusClass(status int) string {
	switch {
	case status == 429:
		return "429"
	case status >= 200 && status <= 299, status >= 400 && status <= 599:
		return strconv.Itoa(status/100) + "xx"
	}
	// No answer, or one the client cannot use (1xx, 3xx).
	return "error"
}
