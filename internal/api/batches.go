package api

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pcupgrade/orchestrator/internal/importer"
	"github.com/pcupgrade/orchestrator/internal/report"
	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// MaxUploadBytes bounds the CSV body of POST /api/v1/batches.
const MaxUploadBytes = 512 << 20

// TransferTimeout bounds an upload (POST /api/v1/batches: receiving the
// body, the import and the answer) and a report download. Those handlers
// move the connection's read and write deadlines to TransferTimeout from
// their start, past the server's ReadTimeout and WriteTimeout, which suit
// every other request but would cut a large file, its import or a large
// report short.
const TransferTimeout = 30 * time.Minute

// answerTimeout bounds writing the 408 answer to an upload that outlasted
// TransferTimeout.
const answerTimeout = 10 * time.Second

// validationErrorBody is the 400 answer to a refused file.
type validationErrorBody struct {
	Error    string        `json:"error"`
	File     string        `json:"file"`
	Problems []problemJSON `json:"problems"`
	More     int           `json:"more"`
}

type problemJSON struct {
	Line    int    `json:"line"`
	Column  string `json:"column,omitempty"`
	Message string `json:"message"`
}

// createBatch imports the CSV in the request body as a new batch, with the
// CLI's validation (importer.Import): 201 with the batch's status, 400 with
// every problem by line and column, 409 when the name is taken.
func (h *Handler) createBatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if strings.TrimSpace(name) == "" {
		writeError(w, http.StatusBadRequest, "name: the batch name is required (?name=NAME)")
		return
	}
	opts := importer.Options{Queued: h.queued}
	if v := q.Get("operation"); v != "" {
		op, err := upgrade.ParseOperation(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "operation: "+err.Error())
			return
		}
		opts.Operation = op
	}
	if v := q.Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("dry_run %q: must be true or false", v))
			return
		}
		opts.DryRun = b
	}
	if v := q.Get("canary"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("canary %q: must be a positive number of items", v))
			return
		}
		opts.CanarySize = n
	}
	if opts.DryRun && opts.CanarySize > 0 {
		writeError(w, http.StatusBadRequest, "dry_run and canary cannot be combined: a dry run changes nothing")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && strings.HasPrefix(mt, "multipart/") {
			writeError(w, http.StatusUnsupportedMediaType, "send the CSV as the raw request body (Content-Type: text/csv), not as a form")
			return
		}
	}
	file := q.Get("filename")
	if file == "" {
		file = "request body"
	}
	h.extendDeadlines(w, r)
	body := http.MaxBytesReader(w, r.Body, MaxUploadBytes)
	b, err := importer.Import(r.Context(), h.store, name, file, body, opts)
	var ve *importer.ValidationError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		out := validationErrorBody{
			Error:    fmt.Sprintf("%s: %d problem(s), nothing imported", ve.File, len(ve.Problems)+ve.More),
			File:     ve.File,
			Problems: make([]problemJSON, 0, len(ve.Problems)),
			More:     ve.More,
		}
		for _, p := range ve.Problems {
			out.Problems = append(out.Problems, problemJSON{Line: p.Line, Column: p.Column, Message: p.Message})
		}
		writeJSON(w, http.StatusBadRequest, out)
		return
	case errors.Is(err, importer.ErrBatchName):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, store.ErrBatchExists):
		writeError(w, http.StatusConflict, fmt.Sprintf("batch %q already exists: choose another name", name))
		return
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d bytes, nothing imported: split it into several batches", tooLarge.Limit))
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The body did not arrive in time (reading it cancelled the
		// request's context too, so this comes before the check below).
		// The write deadline passed with the read deadline: the answer
		// gets a moment of its own.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout)); err != nil {
			h.logger.WarnContext(r.Context(), "api cannot extend the write deadline", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		}
		writeError(w, http.StatusRequestTimeout, fmt.Sprintf("the file did not arrive within %s, nothing imported: send it again, or split it into several batches", h.transferTimeout))
		return
	case err != nil:
		if r.Context().Err() != nil {
			writeError(w, http.StatusBadRequest, "the request was cancelled, nothing imported")
			return
		}
		h.fail(w, r, err)
		return
	}
	s, err := report.LoadStatus(r.Context(), h.store, b)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/batches/"+url.PathEscape(b.Name))
	writeJSON(w, http.StatusCreated, s)
}

// batchReport streams a batch's report: CSV exactly as `orchestrator
// report` writes it (the default), JSON (an array of objects keyed by the
// CSV header names), or with failed=true the failed items in the import
// format.
func (h *Handler) batchReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = report.FormatCSV
	}
	if !slices.Contains(report.Formats(), format) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format %q: supported formats: %s", format, strings.Join(report.Formats(), ", ")))
		return
	}
	failed := false
	if v := q.Get("failed"); v != "" {
		var err error
		if failed, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("failed %q: must be true or false", v))
			return
		}
	}
	if failed && format != report.FormatCSV {
		writeError(w, http.StatusBadRequest, "failed=true exports the import format (CSV): leave out format or use format=csv")
		return
	}
	h.extendDeadlines(w, r)
	b, err := h.store.BatchByName(r.Context(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var write func() error
	if failed {
		attachment(w, report.ContentType(report.FormatCSV), b.Name+"-failed.csv")
		write = func() error { return report.WriteFailedCSV(r.Context(), w, h.store, b) }
	} else {
		// The format's name is the file's extension.
		attachment(w, report.ContentType(format), b.Name+"-report."+format)
		write = func() error { return report.Write(r.Context(), w, h.store, b, format) }
	}
	w.WriteHeader(http.StatusOK)
	if err := write(); err != nil {
		// The status line is gone: cut the connection so that the client
		// sees a broken transfer, not a complete-looking short report.
		if r.Context().Err() == nil {
			h.logger.ErrorContext(r.Context(), "api report failed", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		}
		panic(http.ErrAbortHandler)
	}
}

// extendDeadlines moves the connection's read and write deadlines to
// h.transferTimeout from now, for a handler that streams a large body in or
// out. Both matter either way: past the read deadline the server also
// cancels the request's context, even once the body is read. Where the
// ResponseWriter cannot move them, the server's timeouts still apply.
func (h *Handler) extendDeadlines(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(h.transferTimeout)
	if err := errors.Join(rc.SetReadDeadline(deadline), rc.SetWriteDeadline(deadline)); err != nil {
		h.logger.WarnContext(r.Context(), "api cannot extend the connection deadlines", slog.String("path", r.URL.Path), slog.String("error", err.Error()))
	}
}

// attachment sets the headers of a downloaded file.
func attachment(w http.ResponseWriter, contentType, filename string) {
	w.Header().Set("Content-Type", contentType)
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": filename})
	if disposition == "" { // a name mime cannot encode
		disposition = "attachment"
	}
	w.Header().Set("Content-Disposition", disposition)
	w.Header().Set("X-Content-Type-Options", "nosniff")
}
