// Package metrics defines the orchestrator's Prometheus metrics. Everything
// is registered on the registry passed to New; nothing is global. Labels
// never carry customer, subscription or upgrade ids.
package metrics

import (
	"errors"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the collectors the service updates directly.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	throttled *prometheus.CounterVec
}

// New creates the metrics and registers them, with build info and the Go
// and process collectors, on reg.
func New(reg prometheus.Registerer, version string) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_partnercenter_requests_total",
			Help: "Partner Center requests by operation and status class (2xx, 4xx, 5xx, or error when no response arrived).",
		}, []string{"operation", "status_class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orchestrator_partnercenter_request_duration_seconds",
			Help:    "Duration of Partner Center requests, by operation.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orchestrator_partnercenter_throttled_total",
			Help: "Partner Center requests answered 429 Too Many Requests, by operation.",
		}, []string{"operation"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "orchestrator_build_info",
		Help: "Build information; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)

	for _, c := range []prometheus.Collector{
		m.requests, m.latency, m.throttled, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("register metrics"), err)
		}
	}
	return m, nil
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

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}
