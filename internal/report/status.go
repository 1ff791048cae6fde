package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
	StateReason string         `json:"state_reason,omitempty"`
	DryRun      bool           `json:"dry_run,omitempty"`
	Total       int            `json:"total"`
	Counts      map[string]int `json:"counts"`
	Stuck       int            `json:"stuck"`
	// Attention counts the items that need a person: completed only in
	// part (a failed line item, user license faults, a failed event after
	// the conversion, a top-level errorDetails), or in progress with a
	// status value the service does not know. Their codes are in
	// TopErrors and their rows in the report.
	Attention int  `json:"attention"`
	Done      bool `json:"done"`
	// Holds are service-wide pauses in force (such as refused
	// credentials): no batch makes progress while one is active.
	Holds       []Hold     `json:"holds,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`

	// ThroughputPerMinute5m and ThroughputPerMinute15m are the items that
	// reached a final status per minute over the last 5 and 15 minutes.
	ThroughputPerMinute5m  float64 `json:"throughput_per_minute_5m"`
	ThroughputPerMinute15m float64 `json:"throughput_per_minute_15m"`
	// ETASeconds is the estimated time to finish: open items at the
	// 5-minute throughput; 0 when every item is final, nil (null) when
	// unknown (nothing settled in the last 5 minutes).
	ETASeconds *int64 `json:"eta_seconds"`
	// OldestInProgressSeconds is how long the oldest item in progress has
	// been in progress; nil (null) when no item is in progress.
	OldestInProgressSeconds *int64 `json:"oldest_in_progress_seconds"`
	// TopErrors are the 5 most frequent error codes of failed and
	// ineligible items and of items needing attention, most frequent first.
	TopErrors []store.ErrorCount `json:"top_errors"`
	// RateLimits are the rate limits the governor learned below their
	// configured rate (Partner Center allows less), service-wide like
	// Holds; empty when every limit runs at its configured rate.
	RateLimits []store.LearnedRate `json:"rate_limits"`
}

// TopErrorCodes is how many error codes a status lists.
const TopErrorCodes = 5

// Hold is a service-wide pause shown with every batch's status.
type Hold struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	// Until is when the hold lapses; for an outage hold (name
	// "outage:<endpoint family>"), which lasts until Partner Center answers
	// again, when the next probe call is due.
	Until time.Time `json:"until"`
	// Since is when the hold began: for an outage, the first of the
	// transient failures that led to it.
	Since time.Time `json:"since"`
	// Outage is true for an outage hold; Probes counts its probe calls.
	Outage bool `json:"outage,omitempty"`
	Probes int  `json:"probes,omitempty"`
}

// NewStatus builds the status of batch b from its counts by item status,
// its number of stuck items and the holds in force. Done is true when every
// item is in a final status.
func NewStatus(b store.Batch, counts map[upgrade.Status]int, stuck int, holds []store.Hold) Status {
	s := Status{
		Batch: b.Name, Operation: string(b.Operation), State: string(b.Status), StateReason: b.StatusReason,
		DryRun: b.DryRun, Total: b.ItemCount, Stuck: stuck,
		Counts: make(map[string]int, len(counts)), CreatedAt: b.CreatedAt, CompletedAt: b.CompletedAt,
	}
	now := time.Now()
	for _, h := range holds {
		if h.InForce(now) {
			s.Holds = append(s.Holds, Hold{Name: h.Name, Reason: h.Reason, Until: h.Until, Since: h.Since, Outage: h.IsOutage(), Probes: h.Probes})
		}
	}
	open := 0
	for st, n := range counts {
		s.Counts[string(st)] = n
		if !st.Final() {
			open += n
		}
	}
	s.Done = open == 0
	s.TopErrors = []store.ErrorCount{}
	s.RateLimits = []store.LearnedRate{}
	return s
}

// LearnedBelow returns the rates of rates learned below their configured
// rate, never nil.
func LearnedBelow(rates []store.LearnedRate) []store.LearnedRate {
	out := []store.LearnedRate{}
	for _, r := range rates {
		if r.Below() {
			out = append(out, r)
		}
	}
	return out
}

// WriteRateLimits writes one line for each rate limit of rates, for people.
func WriteRateLimits(w io.Writer, rates []store.LearnedRate) {
	for _, r := range rates {
		fmt.Fprintf(w, "rate limit\t%s: Partner Center allows less than configured; the governor uses %.2f calls/s of the configured %.2f (%.0f %%), lowered by %d 429(s), last changed %s\n",
			r.Limit, r.LearnedPerSecond, r.ConfiguredPerSecond, 100*r.LearnedPerSecond/r.ConfiguredPerSecond, r.Lowered,
			r.ChangedAt.UTC().Format(time.RFC3339))
	}
}

// WithProgress adds p (throughput, ETA, oldest item in progress, top error
// codes) to s.
func (s Status) WithProgress(p store.Progress) Status {
	s.ThroughputPerMinute5m = perMinute(p.SettledShort, store.ShortWindow)
	s.ThroughputPerMinute15m = perMinute(p.SettledLong, store.LongWindow)
	s.ETASeconds = eta(s.open(), s.ThroughputPerMinute5m)
	if p.OldestInProgress != nil {
		secs := int64(p.OldestInProgress.Seconds())
		s.OldestInProgressSeconds = &secs
	}
	s.TopErrors = append([]store.ErrorCount{}, p.TopErrors...)
	return s
}

// open counts the items not in a final status.
func (s Status) open() int {
	n := 0
	for st, c := range s.Counts {
		if !upgrade.Status(st).Final() {
			n += c
		}
	}
	return n
}

// perMinute is n items over window, per minute, rounded to 0.1.
func perMinute(n int, window time.Duration) float64 {
	return math.Round(10*float64(n)/window.Minutes()) / 10
}

// eta is the seconds open items take at perMin items a minute: 0 when
// nothing is open, nil when the rate is zero (unknown).
func eta(open int, perMin float64) *int64 {
	var secs int64
	switch {
	case open == 0:
	case perMin <= 0:
		return nil
	default:
		secs = int64(math.Ceil(float64(open) / perMin * 60))
	}
	return &secs
}

// formatETA is an ETA for people: "unknown", "done" or a duration.
func formatETA(secs *int64) string {
	switch {
	case secs == nil:
		return "unknown"
	case *secs == 0:
		return "done"
	default:
		return formatSeconds(*secs)
	}
}

// formatSeconds is a duration rounded for people: 45s, 12m30s, 3h05m, 2d04h.
func formatSeconds(secs int64) string {
	d := time.Duration(secs) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", secs)
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", secs/3600, secs%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", secs/86400, secs%86400/3600)
	}
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
	if s.DryRun {
		state += " (dry run: eligibility only)"
	}
	fmt.Fprintf(tw, "batch\t%s\n", s.Batch)
	fmt.Fprintf(tw, "operation\t%s\n", s.Operation)
	fmt.Fprintf(tw, "state\t%s\n", state)
	if s.StateReason != "" {
		fmt.Fprintf(tw, "reason\t%s\n", s.StateReason)
	}
	fmt.Fprintf(tw, "items\t%d\n", s.Total)
	if s.Stuck > 0 {
		fmt.Fprintf(tw, "stuck\t%d in progress past the stuck limit, no longer polled (resume the batch to poll them again)\n", s.Stuck)
	}
	if s.Attention > 0 {
		fmt.Fprintf(tw, "attention\t%d item(s) need a person: Partner Center completed them only in part, or reports a status the service does not know (see the error codes and the report's attention column)\n", s.Attention)
	}
	for _, h := range s.Holds {
		if h.Outage {
			fmt.Fprintf(tw, "PAUSED\tPartner Center unavailable since %s: %s; items wait, none is failed by it; probe calls so far %d, next at %s; work resumes by itself on the first answer\n",
				h.Since.UTC().Format(time.RFC3339), h.Reason, h.Probes, h.Until.UTC().Format(time.RFC3339))
			continue
		}
		fmt.Fprintf(tw, "PAUSED\tall work is paused until %s: %s\n", h.Until.UTC().Format(time.RFC3339), h.Reason)
	}
	WriteRateLimits(tw, s.RateLimits)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	// Progress is aligned on its own, so the table above keeps its layout.
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "throughput\t%.1f items/min over the last 5 minutes, %.1f over the last 15\n",
		s.ThroughputPerMinute5m, s.ThroughputPerMinute15m)
	switch open := s.open(); {
	case open == 0:
		fmt.Fprintf(tw, "eta\tdone: every item is final\n")
	case s.ETASeconds == nil:
		fmt.Fprintf(tw, "eta\tunknown: %d open item(s) and none settled in the last 5 minutes\n", open)
	default:
		fmt.Fprintf(tw, "eta\t%s (%d open item(s) at the 5-minute rate)\n", formatETA(s.ETASeconds), open)
	}
	if s.OldestInProgressSeconds != nil {
		fmt.Fprintf(tw, "oldest in progress\t%s\n", formatSeconds(*s.OldestInProgressSeconds))
	} else {
		fmt.Fprintf(tw, "oldest in progress\t-\n")
	}
	if len(s.TopErrors) > 0 {
		fmt.Fprintln(tw, "\t")
		fmt.Fprintln(tw, "ERROR CODE\tITEMS\t")
		for _, e := range s.TopErrors {
			fmt.Fprintf(tw, "%s\t%d\t\n", e.Code, e.Count)
		}
	}
	return tw.Flush()
}

// StatusSource is what LoadStatus reads; *store.Store implements it.
type StatusSource interface {
	StatusCounts(ctx context.Context, batchID int64) (map[upgrade.Status]int, error)
	StuckCount(ctx context.Context, batchID int64) (int, error)
	AttentionCount(ctx context.Context, batchID int64) (int, error)
	Holds(ctx context.Context) ([]store.Hold, error)
	Progress(ctx context.Context, batchID int64, topErrors int) (store.Progress, error)
	LearnedRates(ctx context.Context) ([]store.LearnedRate, error)
}

// serviceWide is what every batch's status shows alike.
type serviceWide struct {
	holds []store.Hold
	rates []store.LearnedRate
}

func loadServiceWide(ctx context.Context, src StatusSource) (serviceWide, error) {
	holds, err := src.Holds(ctx)
	if err != nil {
		return serviceWide{}, err
	}
	rates, err := src.LearnedRates(ctx)
	if err != nil {
		return serviceWide{}, err
	}
	return serviceWide{holds: holds, rates: LearnedBelow(rates)}, nil
}

// LoadStatus reads the status of batch b.
func LoadStatus(ctx context.Context, src StatusSource, b store.Batch) (Status, error) {
	sw, err := loadServiceWide(ctx, src)
	if err != nil {
		return Status{}, err
	}
	return loadStatus(ctx, src, b, sw)
}

// LoadStatuses reads the status of every batch of bs, in the same order:
// as LoadStatus, but the holds and rate limits, the same for every batch,
// are read once.
func LoadStatuses(ctx context.Context, src StatusSource, bs []store.Batch) ([]Status, error) {
	sw, err := loadServiceWide(ctx, src)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(bs))
	for _, b := range bs {
		s, err := loadStatus(ctx, src, b, sw)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// loadStatus reads the status of batch b, with the holds in force and the
// limits learned below their configured rate. The stuck
// items, the items needing attention and the top error codes are read only
// when the counts show items that can have them (in progress; completed or
// in progress; failed, ineligible or needing attention): the error codes
// take a pass over the batch's items.
func loadStatus(ctx context.Context, src StatusSource, b store.Batch, sw serviceWide) (Status, error) {
	counts, err := src.StatusCounts(ctx, b.ID)
	if err != nil {
		return Status{}, err
	}
	stuck := 0
	if counts[upgrade.StatusInProgress] > 0 {
		if stuck, err = src.StuckCount(ctx, b.ID); err != nil {
			return Status{}, err
		}
	}
	attention := 0
	if counts[upgrade.StatusCompleted]+counts[upgrade.StatusInProgress] > 0 {
		if attention, err = src.AttentionCount(ctx, b.ID); err != nil {
			return Status{}, err
		}
	}
	topErrors := 0
	if counts[upgrade.StatusFailed]+counts[upgrade.StatusIneligible]+attention > 0 {
		topErrors = TopErrorCodes
	}
	p, err := src.Progress(ctx, b.ID, topErrors)
	if err != nil {
		return Status{}, err
	}
	s := NewStatus(b, counts, stuck, sw.holds).WithProgress(p)
	s.Attention = attention
	s.RateLimits = append(s.RateLimits, sw.rates...)
	return s, nil
}

// Summary is one line of the list of batches.
type Summary struct {
	Batch       string  `json:"batch"`
	Operation   string  `json:"operation"`
	State       string  `json:"state"`
	DryRun      bool    `json:"dry_run,omitempty"`
	Total       int     `json:"total"`
	Open        int     `json:"open"`
	DonePercent float64 `json:"done_percent"`
	// Attention counts the items that need a person (see Status.Attention).
	Attention              int     `json:"attention"`
	ThroughputPerMinute5m  float64 `json:"throughput_per_minute_5m"`
	ThroughputPerMinute15m float64 `json:"throughput_per_minute_15m"`
	ETASeconds             *int64  `json:"eta_seconds"`
}

// NewSummary summarises bp for the list of batches.
func NewSummary(bp store.BatchProgress) Summary {
	s := Summary{
		Batch: bp.Name, Operation: string(bp.Operation), State: string(bp.Status), DryRun: bp.DryRun,
		Total: bp.ItemCount, Open: bp.Open, DonePercent: 100, Attention: bp.Attention,
		ThroughputPerMinute5m:  perMinute(bp.SettledShort, store.ShortWindow),
		ThroughputPerMinute15m: perMinute(bp.SettledLong, store.LongWindow),
	}
	if bp.ItemCount > 0 {
		s.DonePercent = math.Floor(1000*float64(bp.ItemCount-bp.Open)/float64(bp.ItemCount)) / 10
	}
	s.ETASeconds = eta(bp.Open, s.ThroughputPerMinute5m)
	return s
}

// WriteSummariesTable writes the list of batches, one line each.
func WriteSummariesTable(w io.Writer, list []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BATCH\tOPERATION\tSTATE\tTOTAL\tDONE\tATTENTION\tTHROUGHPUT\tETA")
	for _, s := range list {
		state := s.State
		if s.DryRun {
			state += " (dry run)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.1f%%\t%d\t%.1f/min\t%s\n",
			s.Batch, s.Operation, state, s.Total, s.DonePercent, s.Attention, s.ThroughputPerMinute5m, formatETA(s.ETASeconds))
	}
	if len(list) == 0 {
		fmt.Fprintln(tw, "(no batches)\t\t\t\t\t\t\t")
	}
	return tw.Flush()
}
