// Package importer turns a customer list (CSV) into a batch: it validates
// every row, listing every problem with its line and column, and writes the
// batch, its items and their first jobs in one transaction, or nothing.
//
// A file holds one operation (see package upgrade), chosen by its header or
// forced by the caller:
//
//	product_upgrade:      customer_id [, product_family]
//	subscription_upgrade: customer_id, subscription_id [, target_offer_id, upgrade_type]
//	transition:           customer_id, subscription_id [, to_catalog_item_id,
//	                      transition_type, quantity, to_subscription_id,
//	                      term_duration, billing_cycle, promotion_id,
//	                      from_catalog_item_id]
//
// Header names are matched without regard to case or surrounding spaces, in
// any order; a UTF-8 BOM and CRLF line ends are accepted.
package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Column names of the CSV formats.
const (
	// ColumnCustomerID is required by every operation.
	ColumnCustomerID = "customer_id"
	// ColumnProductFamily is optional in product upgrades.
	ColumnProductFamily = "product_family"
	// ColumnSubscriptionID is the source subscription, required by
	// subscription upgrades and transitions.
	ColumnSubscriptionID = "subscription_id"
	// ColumnTargetOfferID and ColumnUpgradeType are optional in subscription
	// upgrades.
	ColumnTargetOfferID = "target_offer_id"
	ColumnUpgradeType   = "upgrade_type"
	// ColumnToCatalogItemID, ColumnTransitionType, ColumnQuantity,
	// ColumnToSubscriptionID, ColumnTermDuration, ColumnBillingCycle,
	// ColumnPromotionID and ColumnFromCatalogItemID are optional in
	// transitions.
	ColumnToCatalogItemID   = "to_catalog_item_id"
	ColumnTransitionType    = "transition_type"
	ColumnQuantity          = "quantity"
	ColumnToSubscriptionID  = "to_subscription_id"
	ColumnTermDuration      = "term_duration"
	ColumnBillingCycle      = "billing_cycle"
	ColumnPromotionID       = "promotion_id"
	ColumnFromCatalogItemID = "from_catalog_item_id"
)

// DefaultProductFamily is used when product_family is absent or empty.
const DefaultProductFamily = "Azure"

// Limits of transition and subscription-upgrade fields.
const (
	maxTargetOfferIDLen = 100
	maxPromotionIDLen   = 100
	minQuantity         = 1
	maxQuantity         = 1000000
)

var (
	upgradeTypes    = []string{"upgrade_only", "upgrade_with_license_transfer"}
	transitionTypes = []string{"transition_only", "transition_with_license_transfer"}
	billingCycles   = []string{"monthly", "annual", "triennial", "none"}
	catalogItemRE   = regexp.MustCompile(`^[A-Za-z0-9]+:[A-Za-z0-9]+:[A-Za-z0-9]+$`)
	termDurationRE  = regexp.MustCompile(`(?i)^P[0-9]+[MY]$`)
	promotionIDRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$`)
)

// format is the CSV layout of one operation.
type format struct {
	op       upgrade.Operation
	required []string
	optional []string
}

// formats lists the layouts in upgrade.Operations order.
var formats = []format{
	{upgrade.ProductUpgrade, []string{ColumnCustomerID}, []string{ColumnProductFamily}},
	{upgrade.SubscriptionUpgrade, []string{ColumnCustomerID, ColumnSubscriptionID}, []string{ColumnTargetOfferID, ColumnUpgradeType}},
	{upgrade.Transition, []string{ColumnCustomerID, ColumnSubscriptionID}, []string{
		ColumnToCatalogItemID, ColumnTransitionType, ColumnQuantity, ColumnToSubscriptionID, ColumnTermDuration, ColumnBillingCycle,
		ColumnPromotionID, ColumnFromCatalogItemID,
	}},
}

func formatOf(op upgrade.Operation) (format, bool) {
	for _, f := range formats {
		if f.op == op {
			return f, true
		}
	}
	return format{}, false
}

// Columns returns the required and optional columns of op's CSV format, or
// nils for an unknown operation.
func Columns(op upgrade.Operation) (required, optional []string) {
	f, ok := formatOf(op)
	if !ok {
		return nil, nil
	}
	return slices.Clone(f.required), slices.Clone(f.optional)
}

func (f format) accepts(name string) bool {
	return slices.Contains(f.required, name) || slices.Contains(f.optional, name)
}

// expected describes the columns f accepts, e.g. "customer_id and optionally
// product_family".
func (f format) expected() string {
	s := strings.Join(f.required, ", ")
	if len(f.optional) > 0 {
		s += " and optionally " + strings.Join(f.optional, ", ")
	}
	return s
}

// header is a full header line of f, for messages.
func (f format) header() string {
	return strings.Join(append(slices.Clone(f.required), f.optional...), ",")
}

// opsOf returns the operations whose format has column name.
func opsOf(name string) []upgrade.Operation {
	var ops []upgrade.Operation
	for _, f := range formats {
		if f.accepts(name) {
			ops = append(ops, f.op)
		}
	}
	return ops
}

func joinOps(ops []upgrade.Operation, last string) string {
	s := make([]string, len(ops))
	for i, op := range ops {
		s[i] = string(op)
	}
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " " + last + " " + s[len(s)-1]
}

// DefaultMaxProblems is how many problems an error lists when the caller
// does not say; the rest are counted.
const DefaultMaxProblems = 100

// maxProblems is kept for the tests written against the default.
const maxProblems = DefaultMaxProblems

// MaxFieldBytes bounds every field: customer lists never need more.
const MaxFieldBytes = 256

// Problem is one thing wrong with an input file.
type Problem struct {
	Line    int    // 1-based line in the file; the header is line 1
	Column  string // column name, or "" when the problem is the whole row
	Message string
}

func (p Problem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d, column %s: %s", p.Line, p.Column, p.Message)
}

// ValidationError lists the problems that made a file be refused.
type ValidationError struct {
	File     string
	Problems []Problem // at most the caller's MaxProblems, in line order
	More     int       // problems found beyond those listed
}

// Error implements error: one problem per line, each naming the file.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s), nothing imported", e.File, len(e.Problems)+e.More)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n%s:%s", e.File, p)
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n... and %d more", e.More)
	}
	return b.String()
}

// problems collects a file's problems: the first max of them, and a count
// of the rest, so memory does not grow with the number of bad rows.
type problems struct {
	file string
	max  int
	list []Problem
	more int
}

func (ps *problems) add(line int, column, format string, args ...any) {
	if len(ps.list) >= ps.max {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Line: line, Column: column, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) count() int { return len(ps.list) + ps.more }

func (ps *problems) err() error {
	if ps.count() == 0 {
		return nil
	}
	return &ValidationError{File: ps.file, Problems: ps.list, More: ps.more}
}

// Reader reads a CSV of one operation row by row, checking each row as it
// goes: memory does not depend on the size of the file. Rows with problems
// are skipped and their problems recorded (the first max of them, and a
// count of the rest); Err tells whether the file as a whole is acceptable.
// Duplicate rows are not Reader's business: Parse finds them in memory,
// Import in the database.
type Reader struct {
	file  string
	f     format
	cols  map[string]int
	names []string // lower-case, trimmed header names by index
	cr    *csv.Reader
	tr    *textReader
	ps    *problems
	rows  int   // rows yielded
	ioErr error // reading failed (not a problem of the file's content)
	done  bool
}

// NewReader reads and checks the header of a CSV of one operation. op
// forces the operation, making other operations' columns unknown; "" detects
// it from the header: a column only subscription upgrades or only
// transitions have picks that operation, customer_id and subscription_id
// alone are ambiguous (the caller must force one), and
// customer_id[,product_family] is a product upgrade. file names the input in
// messages; maxProblems (<= 0: DefaultMaxProblems) bounds how many problems
// are listed. A wrong header gives a *ValidationError.
func NewReader(r io.Reader, file string, op upgrade.Operation, maxProblems int) (*Reader, error) {
	if op != "" {
		if _, ok := formatOf(op); !ok {
			_, err := upgrade.ParseOperation(string(op))
			return nil, err
		}
	}
	if maxProblems <= 0 {
		maxProblems = DefaultMaxProblems
	}
	ps := &problems{file: file, max: maxProblems}
	tr := newTextReader(r)
	br := bufio.NewReaderSize(tr, 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		if f, ok := formatOf(op); ok {
			ps.add(1, "", "file is empty; expected a header %q", f.header())
		} else {
			ps.add(1, "", "file is empty; expected a header such as %q, %q or %q",
				formats[0].header(), formats[1].header(), formats[2].header())
		}
		return nil, ps.err()
	}
	if err != nil {
		var ie *inputError
		switch {
		case errors.As(err, &ie):
			ps.add(ie.line, "", "%s", ie.msg)
		case isParseError(err):
			ps.add(1, "", "unreadable header: %v", csvMessage(err))
		default:
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, ps.err()
	}
	header = slices.Clone(header)
	for i, h := range header {
		if len(h) > MaxFieldBytes {
			header[i] = truncate(h, 60)
		}
	}
	f, cols, ok := headerColumns(header, op, ps)
	if !ok {
		return nil, ps.err()
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.ToLower(strings.TrimSpace(h))
	}
	return &Reader{file: file, f: f, cols: cols, names: names, cr: cr, tr: tr, ps: ps}, nil
}

// Operation is the file's operation, forced or read from the header.
func (rd *Reader) Operation() upgrade.Operation { return rd.f.op }

// Rows is the number of good rows Next returned so far.
func (rd *Reader) Rows() int { return rd.rows }

// Offset is the number of bytes of the input read so far.
func (rd *Reader) Offset() int64 { return rd.tr.offset }

// Next returns the next good row, skipping (and recording the problems of)
// bad ones, or false at the end of the file or when it cannot be read on.
func (rd *Reader) Next() (store.NewItem, bool) {
	for !rd.done {
		rec, err := rd.cr.Read()
		if errors.Is(err, io.EOF) {
			rd.done = true
			break
		}
		if err != nil {
			var pe *csv.ParseError
			var ie *inputError
			switch {
			case errors.As(err, &ie):
				rd.ps.add(ie.line, "", "%s", ie.msg)
				rd.done = true
			case errors.As(err, &pe):
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					// The reader cannot resynchronise after a broken quote.
					rd.ps.add(pe.StartLine, "", "%s (broken quoting in the row starting here, found at line %d, byte %d of the line; reading stopped here)",
						csvMessage(err), pe.Line, pe.Column)
					rd.done = true
					continue
				}
				rd.ps.add(pe.StartLine, "", "%s", csvMessage(err))
			default:
				rd.ioErr = fmt.Errorf("%s: %w", rd.file, err)
				rd.done = true
			}
			continue
		}
		line, _ := rd.cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if !rd.fieldsOK(rec, line) {
			continue
		}
		rw := row{rec: rec, cols: rd.cols, line: line, ps: rd.ps}
		it, ok := rw.parse(rd.f.op)
		if !ok {
			continue
		}
		rd.rows++
		return it, true
	}
	return store.NewItem{}, false
}

// fieldsOK checks what every field of every format must be: short, on one
// line, and as many as the header's.
func (rd *Reader) fieldsOK(rec []string, line int) bool {
	ok := true
	for i, v := range rec {
		long, broken := len(v) > MaxFieldBytes, strings.ContainsAny(v, "\r\n")
		if !long && !broken {
			continue
		}
		ok = false
		col, what := "", ""
		if i < len(rd.names) {
			col = rd.names[i]
		} else {
			what = fmt.Sprintf("field %d ", i+1)
		}
		if broken {
			rd.ps.add(line, col, "%scontains a line break (a quoted field spanning lines); customer lists never need one", what)
		} else {
			rd.ps.add(line, col, "%sis %d bytes long; a field holds at most %d", what, len(v), MaxFieldBytes)
		}
	}
	if len(rec) != len(rd.names) {
		rd.ps.add(line, "", "has %d fields, the header has %d", len(rec), len(rd.names))
		ok = false
	}
	return ok
}

// Err is nil when the whole file was read without a problem and had at
// least one row; else a *ValidationError, or the error reading it. Call it
// after Next returned false.
func (rd *Reader) Err() error {
	if rd.ioErr != nil {
		return rd.ioErr
	}
	if rd.rows == 0 && rd.ps.count() == 0 {
		rd.ps.add(1, "", "no customer rows after the header")
	}
	return rd.ps.err()
}

// duplicateProblem describes line as a repeat of first.
func duplicateProblem(op upgrade.Operation, line, first int, customer, family, subscription string) Problem {
	if op == upgrade.ProductUpgrade {
		return Problem{Line: line, Column: ColumnCustomerID,
			Message: fmt.Sprintf("duplicate of line %d (customer %s, product family %s)", first, customer, family)}
	}
	return Problem{Line: line, Column: ColumnSubscriptionID,
		Message: fmt.Sprintf("duplicate of line %d (customer %s, subscription %s)", first, customer, subscription)}
}

// Parse reads a whole CSV of one operation into memory and returns the
// operation and its rows, or a *ValidationError listing every problem (each
// with its line and column, duplicates naming both lines). It is for small
// inputs; Import streams. See NewReader for op and file. Customer and
// subscription GUIDs come back in lower-case canonical form.
func Parse(r io.Reader, file string, op upgrade.Operation) (upgrade.Operation, []store.NewItem, error) {
	rd, err := NewReader(r, file, op, DefaultMaxProblems)
	if err != nil {
		return "", nil, err
	}
	var items []store.NewItem
	seen := make(map[string]int) // duplicate key -> first line
	for {
		it, ok := rd.Next()
		if !ok {
			break
		}
		key := duplicateKey(it)
		if first, dup := seen[key]; dup {
			p := duplicateProblem(rd.f.op, it.LineNumber, first, it.CustomerID, it.ProductFamily, it.SubscriptionID)
			rd.ps.add(p.Line, p.Column, "%s", p.Message)
			continue
		}
		seen[key] = it.LineNumber
		items = append(items, it)
	}
	if err := rd.Err(); err != nil {
		return "", nil, err
	}
	return rd.f.op, items, nil
}

func isParseError(err error) bool {
	var pe *csv.ParseError
	return errors.As(err, &pe)
}

// headerColumns maps the header's column names to their indexes and picks
// the format: op's when forced, else the one detect finds.
func headerColumns(header []string, op upgrade.Operation, ps *problems) (format, map[string]int, bool) {
	before := ps.count()
	cols := make(map[string]int, len(header))
	var names []string // known columns, in header order
	var unknown []int  // indexes of columns no format has
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if first, dup := cols[name]; dup {
			ps.add(1, "", "duplicate column %q (columns %d and %d)", name, first+1, i+1)
			continue
		}
		cols[name] = i
		if len(opsOf(name)) == 0 {
			unknown = append(unknown, i)
			continue
		}
		names = append(names, name)
	}

	f, forced := formatOf(op)
	detected := forced
	if !forced {
		f, detected = detect(names, ps)
	}

	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		known := !slices.Contains(unknown, i)
		if known && (!detected || f.accepts(name)) {
			continue
		}
		if cols[name] != i {
			continue // a duplicate, already reported
		}
		hint := ""
		if strings.ContainsAny(h, ";\t|") {
			hint = " (the file looks delimited by something other than commas)"
		}
		switch {
		case known: // a column of another operation than the forced one
			ps.add(1, "", "unknown column %q for operation %s (it is a column of %s); expected %s",
				strings.TrimSpace(h), f.op, joinOps(opsOf(name), "or"), f.expected())
		case detected && (forced || len(names) > 0):
			ps.add(1, "", "unknown column %q%s; expected %s", strings.TrimSpace(h), hint, f.expected())
		default: // no operation told by the header
			var all []string
			for _, f := range formats {
				all = append(all, fmt.Sprintf("%s: %s", f.op, f.expected()))
			}
			ps.add(1, "", "unknown column %q%s; expected the columns of one operation (%s)",
				strings.TrimSpace(h), hint, strings.Join(all, "; "))
		}
	}

	required := []string{ColumnCustomerID} // every operation's
	if detected {
		required = f.required
	}
	for _, name := range required {
		if _, ok := cols[name]; !ok {
			ps.add(1, "", "missing column %s", name)
		}
	}
	return f, cols, detected && ps.count() == before
}

// detect picks the format of a header holding the known columns names:
//   - product_upgrade when no column names another operation (only
//     customer_id and product_family, or nothing known at all);
//   - subscription_upgrade or transition when a column only it has is
//     present (target_offer_id, upgrade_type; to_catalog_item_id,
//     transition_type, quantity, to_subscription_id, term_duration,
//     billing_cycle, promotion_id, from_catalog_item_id);
//   - none, with a problem, when the columns fit both subscription_upgrade
//     and transition (customer_id,subscription_id) or when they come from
//     different operations.
func detect(names []string, ps *problems) (format, bool) {
	cands := upgrade.Operations()
	for _, name := range names {
		ops := opsOf(name)
		cands = slices.DeleteFunc(cands, func(op upgrade.Operation) bool { return !slices.Contains(ops, op) })
	}
	switch {
	case len(cands) == 1:
		f, _ := formatOf(cands[0])
		return f, true
	case len(cands) == len(upgrade.Operations()):
		return formats[0], true
	case len(cands) == 0:
		var parts []string
		for _, name := range names {
			if ops := opsOf(name); len(ops) < len(formats) {
				parts = append(parts, fmt.Sprintf("%s (%s)", name, joinOps(ops, "or")))
			}
		}
		ps.add(1, "", "the header mixes columns of different operations: %s; a file holds one operation",
			strings.Join(parts, ", "))
		return format{}, false
	default:
		var targets []string
		for _, op := range cands {
			f, _ := formatOf(op)
			targets = append(targets, f.optional[0])
		}
		ps.add(1, "", "columns %s fit operations %s: pass --operation %s, or add a target column (%s)",
			strings.Join(names, ","), joinOps(cands, "and"), joinOps(cands, "or --operation"), strings.Join(targets, " or "))
		return format{}, false
	}
}

// row is one record being parsed.
type row struct {
	rec  []string
	cols map[string]int
	line int
	ps   *problems
	ok   bool
}

// get returns column name's trimmed value, "" when the column is absent.
func (r *row) get(name string) string {
	i, ok := r.cols[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

func (r *row) bad(column, format string, args ...any) {
	r.ps.add(r.line, column, format, args...)
	r.ok = false
}

// guid parses a required GUID column into lower-case canonical form.
func (r *row) guid(column string) string {
	raw := r.get(column)
	if raw == "" {
		r.bad(column, "is empty")
		return ""
	}
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		r.bad(column, "%q is not a GUID", truncate(raw, 60))
		return ""
	}
	return id.String()
}

// oneOf returns an optional column's value lower-cased, checking it is one of
// values.
func (r *row) oneOf(column string, values []string) string {
	v := strings.ToLower(r.get(column))
	if v != "" && !slices.Contains(values, v) {
		r.bad(column, "%q is not one of %s", truncate(r.get(column), 60), strings.Join(values, ", "))
		return ""
	}
	return v
}

func (r *row) parse(op upgrade.Operation) (store.NewItem, bool) {
	r.ok = true
	it := store.NewItem{LineNumber: r.line, CustomerID: r.guid(ColumnCustomerID)}
	switch op {
	case upgrade.ProductUpgrade:
		it.ProductFamily = DefaultProductFamily
		if f := r.get(ColumnProductFamily); f != "" && !strings.EqualFold(f, DefaultProductFamily) {
			r.bad(ColumnProductFamily, "%q is not supported; the only product family is %s", truncate(f, 60), DefaultProductFamily)
		}
	case upgrade.SubscriptionUpgrade:
		it.SubscriptionID = r.guid(ColumnSubscriptionID)
		it.TargetID = r.get(ColumnTargetOfferID)
		switch t := it.TargetID; {
		case len(t) > maxTargetOfferIDLen:
			r.bad(ColumnTargetOfferID, "%q is longer than %d characters", truncate(t, 60), maxTargetOfferIDLen)
		case strings.IndexFunc(t, unicode.IsSpace) >= 0:
			r.bad(ColumnTargetOfferID, "%q contains spaces", truncate(t, 60))
		case strings.IndexFunc(t, unicode.IsControl) >= 0:
			r.bad(ColumnTargetOfferID, "%q contains control characters", truncate(t, 60))
		}
		it.Options.UpgradeType = r.oneOf(ColumnUpgradeType, upgradeTypes)
	case upgrade.Transition:
		it.SubscriptionID = r.guid(ColumnSubscriptionID)
		it.TargetID = r.get(ColumnToCatalogItemID)
		if t := it.TargetID; t != "" && !catalogItemRE.MatchString(t) {
			r.bad(ColumnToCatalogItemID, "%q is not a catalog item id; expected {productId}:{skuId}:{availabilityId}, e.g. DZH318Z0BQ3Q:0007:DZH318Z0BSMM", truncate(t, 60))
		}
		it.Options.TransitionType = r.oneOf(ColumnTransitionType, transitionTypes)
		if q := r.get(ColumnQuantity); q != "" {
			n, err := strconv.Atoi(q)
			switch {
			case err != nil && !errors.Is(err, strconv.ErrRange):
				r.bad(ColumnQuantity, "%q is not a whole number", truncate(q, 60))
			case err != nil || n < minQuantity || n > maxQuantity:
				r.bad(ColumnQuantity, "%s is out of range %d..%d", truncate(q, 60), minQuantity, maxQuantity)
			default:
				it.Options.Quantity = n
			}
		}
		if r.get(ColumnToSubscriptionID) != "" {
			to := r.guid(ColumnToSubscriptionID)
			if to != "" && to == it.SubscriptionID {
				r.bad(ColumnToSubscriptionID, "is the source subscription %s; a subscription cannot transition into itself", to)
			}
			it.Options.ToSubscriptionID = to
		}
		if d := r.get(ColumnTermDuration); d != "" {
			if !termDurationRE.MatchString(d) {
				r.bad(ColumnTermDuration, "%q is not an ISO 8601 term such as P1M, P1Y or P3Y", truncate(d, 60))
			}
			it.Options.TermDuration = strings.ToUpper(d)
		}
		it.Options.BillingCycle = r.oneOf(ColumnBillingCycle, billingCycles)
		if p := r.get(ColumnPromotionID); p != "" {
			switch {
			case len(p) > maxPromotionIDLen:
				r.bad(ColumnPromotionID, "%q is longer than %d characters", truncate(p, 60), maxPromotionIDLen)
			case !promotionIDRE.MatchString(p):
				r.bad(ColumnPromotionID, "%q is not a promotion id; expected letters, digits, '-' and '_', in parts separated by ':' (as Partner Center lists promotions)", truncate(p, 60))
			}
			it.Options.PromotionID = p
		}
		if from := r.get(ColumnFromCatalogItemID); from != "" {
			if !catalogItemRE.MatchString(from) {
				r.bad(ColumnFromCatalogItemID, "%q is not a catalog item id; expected {productId}:{skuId}:{availabilityId}, e.g. CFQ7TTC0LF8Q:0001:CFQ7TTC0K39X", truncate(from, 60))
			}
			it.Options.FromCatalogItemID = from
		}
	}
	return it, r.ok
}

func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// duplicateKey identifies the work a row asks for: two rows with one key are
// duplicates (product upgrades: customer and family; the other operations:
// customer and subscription).
func duplicateKey(it store.NewItem) string {
	return it.CustomerID + "|" + strings.ToLower(it.ProductFamily) + "|" + it.SubscriptionID
}
