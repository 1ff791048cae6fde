// Package importer turns a customer list (CSV) into a batch: it validates
// every row, listing every problem with its line and column, and writes the
// batch, its items and their first jobs in one transaction, or nothing.
package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"github.com/pcupgrade/orchestrator/internal/store"
)

// Column names of the product-upgrade CSV format.
const (
	ColumnCustomerID    = "customer_id"
	ColumnProductFamily = "product_family"
)

// DefaultProductFamily is used when product_family is absent or empty.
const DefaultProductFamily = "Azure"

// maxProblems bounds how many problems an error lists; the rest are counted.
const maxProblems = 100

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
	Problems []Problem // at most maxProblems
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

type problems struct {
	file string
	list []Problem
	more int
}

func (ps *problems) add(line int, column, format string, args ...any) {
	if len(ps.list) >= maxProblems {
		ps.more++
		return
	}
	ps.list = append(ps.list, Problem{Line: line, Column: column, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{File: ps.file, Problems: ps.list, More: ps.more}
}

// Parse reads a product-upgrade CSV (header customer_id[,product_family],
// matched without regard to case or surrounding spaces; UTF-8 BOM and CRLF
// accepted) and returns its rows, or a *ValidationError listing every
// problem. file names the input in messages.
func Parse(r io.Reader, file string) ([]store.NewItem, error) {
	ps := &problems{file: file}
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		ps.add(1, "", "file is empty; expected a header %q", ColumnCustomerID+","+ColumnProductFamily)
		return nil, ps.err()
	}
	if err != nil {
		ps.add(1, "", "unreadable header: %v", csvMessage(err))
		return nil, ps.err()
	}
	header = append([]string(nil), header...)
	cols, ok := headerColumns(header, ps)
	if !ok {
		return nil, ps.err()
	}

	var items []store.NewItem
	seen := make(map[string]int) // customer|family -> first line
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ps.add(pe.StartLine, "", "%s", csvMessage(err))
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					// The reader cannot resynchronise after a broken quote.
					break
				}
				continue
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(header) {
			ps.add(line, "", "has %d fields, the header has %d", len(rec), len(header))
			continue
		}
		it, ok := parseRow(rec, cols, line, ps)
		if !ok {
			continue
		}
		key := it.CustomerID + "|" + strings.ToLower(it.ProductFamily)
		if first, dup := seen[key]; dup {
			ps.add(line, ColumnCustomerID, "duplicate of line %d (customer %s, product family %s)", first, it.CustomerID, it.ProductFamily)
			continue
		}
		seen[key] = line
		items = append(items, it)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		ps.add(1, "", "no customer rows after the header")
		return nil, ps.err()
	}
	return items, nil
}

type columns struct {
	customer, family int // -1 when absent
}

func headerColumns(header []string, ps *problems) (columns, bool) {
	cols := columns{customer: -1, family: -1}
	for i, h := range header {
		switch name := strings.ToLower(strings.TrimSpace(h)); name {
		case ColumnCustomerID:
			cols.customer = i
		case ColumnProductFamily:
			cols.family = i
		default:
			hint := ""
			if strings.ContainsAny(h, ";\t|") {
				hint = " (the file looks delimited by something other than commas)"
			}
			ps.add(1, "", "unknown column %q%s; expected %s and optionally %s", strings.TrimSpace(h), hint, ColumnCustomerID, ColumnProductFamily)
		}
	}
	if cols.customer < 0 {
		ps.add(1, "", "missing column %s", ColumnCustomerID)
	}
	return cols, len(ps.list) == 0
}

func parseRow(rec []string, cols columns, line int, ps *problems) (store.NewItem, bool) {
	ok := true
	raw := strings.TrimSpace(rec[cols.customer])
	id, err := uuid.Parse(raw)
	if raw == "" {
		ps.add(line, ColumnCustomerID, "is empty")
		ok = false
	} else if err != nil || len(raw) != 36 {
		ps.add(line, ColumnCustomerID, "%q is not a GUID", truncate(raw, 60))
		ok = false
	}
	family := DefaultProductFamily
	if cols.family >= 0 {
		if f := strings.TrimSpace(rec[cols.family]); f != "" {
			if !strings.EqualFold(f, DefaultProductFamily) {
				ps.add(line, ColumnProductFamily, "%q is not supported; the only product family is %s", truncate(f, 60), DefaultProductFamily)
				ok = false
			}
		}
	}
	return store.NewItem{LineNumber: line, CustomerID: id.String(), ProductFamily: family}, ok
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
