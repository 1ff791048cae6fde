package jobs

import (
	"sync"
	"time"
)

// Gate holds back calls to Partner Center operations that answered 429:
// after a Retry-After, no job in this process calls that operation again
// until the wait is over; the jobs snooze instead. It is the process-local
// half of respecting Partner Center's throttling.
type Gate struct {
	mu    sync.Mutex
	until map[string]time.Time
	now   func() time.Time
}

// NewGate returns an open gate.
func NewGate() *Gate {
	return &Gate{until: make(map[string]time.Time), now: time.Now}
}

// Pause closes operation op for d from now, unless it is already closed
// for longer.
func (g *Gate) Pause(op string, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.now().Add(d); t.After(g.until[op]) {
		g.until[op] = t
	}
}

// Wait returns how long op remains closed, and whether it is closed.
func (g *Gate) Wait(op string) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.until[op].Sub(g.now())
	if d <= 0 {
		delete(g.until, op)
		return 0, false
	}
	return d, true
}
