package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds the graceful shutdown of Serve.
const shutdownTimeout = 10 * time.Second

// requestInfo is filled in by ServeHTTP for the logging handler.
type requestInfo struct {
	op       string
	replayed bool
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

func (i *requestInfo) set(op string, replayed bool) {
	if i != nil {
		i.op, i.replayed = op, replayed
	}
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Handler returns s wrapped to log one line per request at debug level:
// method, path, operation, status, whether it was replayed, duration and
// the MS-RequestId/MS-CorrelationId. Authorization headers, tokens and
// bodies are never logged. A nil logger returns s itself.
func (s *Simulator) Handler(logger *slog.Logger) http.Handler {
	if logger == nil {
		return s
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		s.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
		status := rec.status
		if status == 0 {
			status = 499 // the client went away before the response was written
		}
		logger.LogAttrs(r.Context(), slog.LevelDebug, "partner center simulator request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("operation", info.op),
			slog.Int("status", status),
			slog.Bool("replayed", info.replayed),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", w.Header().Get("MS-RequestId")),
			slog.String("correlation_id", w.Header().Get("MS-CorrelationId")),
		)
	})
}

// ListenAndServe serves s on addr until ctx is done, then shuts down
// gracefully, letting in-flight requests finish.
func ListenAndServe(ctx context.Context, addr string, s *Simulator, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("simulator: listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, s, logger)
}

// Serve serves s on ln until ctx is done, then shuts down gracefully. It
// closes ln. Use it with a listener on port 0 to learn the address first.
func Serve(ctx context.Context, ln net.Listener, s *Simulator, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           s.Handler(logger),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.InfoContext(ctx, "partner center simulator listening", slog.String("addr", ln.Addr().String()))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("simulator: serve: %w", err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("simulator: shutdown: %w", err)
	}
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("simulator: serve: %w", serveErr)
	}
	logger.InfoContext(ctx, "partner center simulator stopped")
	return err
}
