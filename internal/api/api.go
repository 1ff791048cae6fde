// Package api serves the operator HTTP API under /api/v1, behind bearer-token
// authentication: batch import (CSV upload), status, reports (CSV, JSON, the
// failed items as an import file), item histories and the batch controls
// (pause, resume, cancel, retry of failed items). The contract is
// docs/openapi.yaml.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/control"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
)

// Handler serves /api/v1.
type Handler struct {
	store   *store.Store
	control *control.Controller
	queued  func(context.Context, pgx.Tx) error
	logger  *slog.Logger
	mux     *http.ServeMux
	authed  http.Handler
	// transferTimeout is TransferTimeout; tests shorten it.
	transferTimeout time.Duration
}

// New returns the API handler. queued asks the service to start a batch
// just created (see importer.Options.Queued); nil leaves it to the
// periodic dispatcher. tokens are the accepted bearer tokens; with none,
// every request is refused.
func New(st *store.Store, ctl *control.Controller, queued func(context.Context, pgx.Tx) error, tokens []string, logger *slog.Logger) *Handler {
	h := &Handler{
		store: st, control: ctl, queued: queued, logger: logger, mux: http.NewServeMux(),
		transferTimeout: TransferTimeout,
	}
	h.authed = RequireBearer(tokens, h.mux)
	h.mux.HandleFunc("GET /api/v1/batches", h.listBatches)
	h.mux.HandleFunc("POST /api/v1/batches", h.createBatch)
	h.mux.HandleFunc("GET /api/v1/batches/{name}", h.batchStatus)
	h.mux.HandleFunc("GET /api/v1/batches/{name}/report", h.batchReport)
	h.mux.HandleFunc("GET /api/v1/batches/{name}/items/{customer_id}/history", h.itemHistory)
	h.mux.HandleFunc("POST /api/v1/batches/{name}/pause", h.act(h.control.Pause))
	h.mux.HandleFunc("POST /api/v1/batches/{name}/resume", h.act(h.control.Resume))
	h.mux.HandleFunc("POST /api/v1/batches/{name}/cancel", h.act(h.control.Cancel))
	h.mux.HandleFunc("POST /api/v1/batches/{name}/retry", h.retry)
	return h
}

// ServeHTTP implements http.Handler: 401 without a valid bearer token.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.authed.ServeHTTP(w, r)
}

// RequireBearer returns a handler that passes a request to next only when it
// carries "Authorization: Bearer T" with T one of tokens, and answers 401
// otherwise. With no tokens every request is refused: never open. The
// tokens are compared as SHA-256 sums in constant time.
func RequireBearer(tokens []string, next http.Handler) http.Handler {
	sums := make([][32]byte, 0, len(tokens))
	for _, t := range tokens {
		if t = strings.TrimSpace(t); t != "" {
			sums = append(sums, sha256.Sum256([]byte(t)))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerAccepted(sums, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orchestrator"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearerAccepted(sums [][32]byte, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for _, t := range sums {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

func (h *Handler) listBatches(w http.ResponseWriter, r *http.Request) {
	batches, err := h.store.Batches(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := report.LoadStatuses(r.Context(), h.store, batches)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"batches": out})
}

func (h *Handler) batchStatus(w http.ResponseWriter, r *http.Request) {
	b, err := h.store.BatchByName(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := report.LoadStatus(r.Context(), h.store, b)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (h *Handler) act(fn func(ctx context.Context, name string) (control.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := fn(r.Context(), r.PathValue("name"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *Handler) retry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("failed") != "true" {
		writeError(w, http.StatusBadRequest, "only failed items can be retried: add ?failed=true (and optionally &error_code=CODE)")
		return
	}
	res, err := h.control.RetryFailed(r.Context(), r.PathValue("name"), strings.TrimSpace(q.Get("error_code")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, control.ErrRefused):
		writeError(w, http.StatusConflict, err.Error())
	default:
		h.logger.ErrorContext(r.Context(), "api request failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
