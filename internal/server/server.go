// Package server serves the orchestrator's HTTP endpoints: /metrics for
// Prometheus, /healthz (the process is alive), /readyz (it can reach
// PostgreSQL and its workers are running), the operator API under /api/
// (package api) and the River UI under /riverui/ (behind the API's bearer
// tokens).
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyFunc reports nil when the service can do its work.
type ReadyFunc func(ctx context.Context) error

// RiverUIPrefix is where the River UI is mounted.
const RiverUIPrefix = "/riverui"

// Handler returns the mux of operational endpoints, with api (which
// authenticates its own requests) mounted under /api/ and riverUI (which
// must be wrapped in the same authentication, see api.RequireBearer) under
// /riverui/, each when it is not nil.
func Handler(gatherer prometheus.Gatherer, ready ReadyFunc, api, riverUI http.Handler, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	if api != nil {
		mux.Handle("/api/", api)
	}
	if riverUI != nil {
		mux.Handle(RiverUIPrefix, riverUI)
		mux.Handle(RiverUIPrefix+"/", riverUI)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(ctx); err != nil {
			logger.Warn("not ready", slog.String("error", err.Error()))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// New returns an *http.Server for handler on addr with sane timeouts.
func New(addr string, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}
