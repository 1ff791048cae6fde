package report

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Status is where a batch stands. Its JSON form is a contract: batch,
// total, counts and done are read by other tools.
type Status struct {
	Batch       string         `json:"batch"`
	Operation   string         `json:"operation"`
	State       string         `json:"state"`
	Total       int            `json:"total"`
	Counts      map[string]int `json:"counts"`
	Done        bool           `json:"done"`
	CreatedAt   time.Time      `json:"created_at"`
	CompletedAt *time.Time     `json:"completed_at,omitempty"`
}

// NewStatus builds the status of batch b from its counts by item status.
// Done is true when every item is in a final status.
func NewStatus(b store.Batch, counts map[upgrade.Status]int) Status {
	s := Status{
		Batch: b.Name, Operation: b.Operation, State: b.Status, Total: b.ItemCount,
		Counts: make(map[string]int, len(counts)), CreatedAt: b.CreatedAt, CompletedAt: b.CompletedAt,
	}
	open := 0
	for st, n := range counts {
		s.Counts[string(st)] = n
		if !st.Final() {
			open += n
		}
	}
	s.Done = open == 0
	return s
}

// WriteJSON writes s as one JSON document.
func (s Status) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteTable writes s as a table for people.
func (s Status) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	state := s.State
	if s.Done {
		state += " (all items final)"
	}
	fmt.Fprintf(tw, "batch\t%s\n", s.Batch)
	fmt.Fprintf(tw, "state\t%s\n", state)
	fmt.Fprintf(tw, "items\t%d\n", s.Total)
	fmt.Fprintln(tw, "\t")
	fmt.Fprintln(tw, "STATUS\tITEMS\tSHARE")
	for _, st := range upgrade.Statuses() {
		n := s.Counts[string(st)]
		share := 0.0
		if s.Total > 0 {
			share = 100 * float64(n) / float64(s.Total)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\n", st, n, share)
	}
	return tw.Flush()
}
