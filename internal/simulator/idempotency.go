package simulator

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Idempotency of MS-RequestId.
//
// Partner Center documents MS-RequestId as "used for idempotency of
// requests" and tells clients to retry a timed-out call with the same value,
// but it does not say what the server answers to a repeat. The simulator
// assumes the common contract:
//
//   - A request to an idempotent route (every Partner Center POST) that
//     carries an MS-RequestId seen within idempotencyWindow, with the same
//     method, path (compared case-insensitively) and body bytes, gets the
//     stored response replayed (status, Location, Content-Type and body)
//     without running the operation again. Tracing headers are fresh.
//   - The same MS-RequestId with a different method, path or body gets 409
//     with a standard error body and runs nothing.
//   - Without MS-RequestId there is no deduplication (the server makes one
//     up per request).
//
// Only responses of operations that ran are stored: a request rejected for
// its token (401/403) is not, so a retry with a valid token executes.

// idempotencyWindow is how long a request id is remembered.
const idempotencyWindow = 24 * time.Hour

// idempotencyEntry is a stored response for one request id.
type idempotencyEntry struct {
	fingerprint [sha256.Size]byte
	resp        response
	at          time.Time
}

// replay looks up the request's MS-RequestId. found reports whether the id
// is known; replayed whether resp is the stored response (as opposed to a
// conflict). The caller holds s.mu.
func (s *Simulator) replay(req *request) (resp response, replayed, found bool) {
	key := strings.ToLower(req.clientRequestID)
	e, ok := s.idempotency[key]
	if !ok {
		return response{}, false, false
	}
	if req.now.Sub(e.at) >= idempotencyWindow {
		delete(s.idempotency, key)
		return response{}, false, false
	}
	if e.fingerprint != fingerprint(req) {
		return partnerError(http.StatusConflict, codeRequestIDReused,
			fmt.Sprintf("The MS-RequestId %s was already used for a different request. Use a new MS-RequestId for every new request.", req.clientRequestID)), false, true
	}
	stored := e.resp
	stored.header = e.resp.header.Clone()
	return stored, true, true
}

// store remembers resp for the request's MS-RequestId. The caller holds s.mu.
func (s *Simulator) store(req *request, resp response) {
	s.idempotency[strings.ToLower(req.clientRequestID)] = idempotencyEntry{
		fingerprint: fingerprint(req),
		resp:        response{status: resp.status, header: resp.header.Clone(), body: resp.body},
		at:          req.now,
	}
}

func fingerprint(req *request) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", req.method, strings.ToLower(strings.TrimRight(req.path, "/")))
	h.Write(req.body)
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
