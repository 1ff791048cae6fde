package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/internal/upgrade"
)

// Options of one import.
type Options struct {
	// Operation forces the file's operation; "" detects it from the header.
	Operation upgrade.Operation
	// DryRun only checks eligibility.
	DryRun bool
	// CanarySize > 0 runs only the first CanarySize items (in file order),
	// then the batch waits for resume.
	CanarySize int
	// MaxProblems bounds how many problems a refusal lists (the rest are
	// counted); <= 0 means DefaultMaxProblems.
	MaxProblems int
	// Progress, when set, is called with the number of good rows and of
	// bytes of the input read so far (Reader.Rows and Reader.Offset) every
	// ProgressEvery rows, and once at the end of the file.
	Progress func(rows int, bytes int64)
	// Queued, when set, is called in the import's transaction once the
	// batch is written, to ask the service to start it (Enqueuer.QueueDispatch)
	// without waiting for the dispatcher's next periodic run.
	Queued func(ctx context.Context, tx pgx.Tx) error
}

// ProgressEvery is how many rows pass between two Options.Progress calls.
const ProgressEvery = 10000

// Import validates the CSV read from r (named file in messages) and creates
// batch name with one pending item per row, all in one transaction; the
// service's dispatcher then queues the items' jobs as capacity allows (only
// the first opts.CanarySize items of a canary). Any problem leaves the
// database untouched: a *ValidationError lists them by line and column.
//
// The file is streamed: each row is checked as it is read and sent to
// PostgreSQL through COPY, so memory does not grow with the file. A bad row
// does not stop the COPY (every problem is found in one pass) but the
// transaction is rolled back. Duplicate rows are found after the COPY by one
// query over the new batch's items whose key a constant-size filter saw
// more than once (see seenFilter).
func Import(ctx context.Context, st *store.Store, name, file string, r io.Reader, opts Options) (store.Batch, error) {
	if err := checkBatchName(name); err != nil {
		return store.Batch{}, err
	}
	if opts.CanarySize < 0 {
		return store.Batch{}, fmt.Errorf("canary size %d: must not be negative", opts.CanarySize)
	}
	rd, err := NewReader(r, file, opts.Operation, opts.MaxProblems)
	if err != nil {
		return store.Batch{}, err
	}
	op := rd.Operation()
	seen := newSeenFilter()
	next := func() (store.NewItem, bool, error) {
		it, ok := rd.Next()
		if opts.Progress != nil && (!ok || rd.Rows()%ProgressEvery == 0) {
			opts.Progress(rd.Rows(), rd.Offset())
		}
		if !ok {
			return it, false, rd.ioErr
		}
		seen.add(duplicateKey(it), it.CustomerID)
		return it, true, nil
	}
	var batch store.Batch
	err = st.InTx(ctx, func(tx pgx.Tx, st *store.Store) error {
		b, err := st.CreateBatch(ctx, store.NewBatch{
			Name:          name,
			Operation:     op,
			CorrelationID: uuid.NewString(),
			SourceFile:    file,
			DryRun:        opts.DryRun,
			CanarySize:    opts.CanarySize,
		}, next)
		if err != nil {
			return err
		}
		if err := rd.Err(); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				return err
			}
		}
		var dups []store.Duplicate
		var total int
		// With no candidate, no key can repeat: the query is skipped. With
		// all, customers is nil and the whole batch is checked.
		if customers, all := seen.customers(); all || len(customers) > 0 {
			dups, total, err = st.Duplicates(ctx, b.ID, rd.ps.max, customers)
			if err != nil {
				return err
			}
		}
		if err := mergeDuplicates(rd.ps, op, dups, total); err != nil {
			return err // rolls the batch back
		}
		batch = b
		return queued(ctx, tx, opts)
	})
	if err != nil {
		return store.Batch{}, err
	}
	return batch, nil
}

// queued calls opts.Queued, if set.
func queued(ctx context.Context, tx pgx.Tx, opts Options) error {
	if opts.Queued == nil {
		return nil
	}
	return opts.Queued(ctx, tx)
}

// mergeDuplicates adds the duplicates found in the database to the row
// problems, keeping the first ps.max of all in line order, and returns the
// refusal if there is any problem.
func mergeDuplicates(ps *problems, op upgrade.Operation, dups []store.Duplicate, total int) error {
	if total == 0 {
		return ps.err()
	}
	merged := make([]Problem, 0, min(len(ps.list)+len(dups), ps.max))
	i, j := 0, 0
	for len(merged) < ps.max && (i < len(ps.list) || j < len(dups)) {
		if j >= len(dups) || (i < len(ps.list) && ps.list[i].Line <= dups[j].Line) {
			merged = append(merged, ps.list[i])
			i++
			continue
		}
		d := dups[j]
		merged = append(merged, duplicateProblem(op, d.Line, d.FirstLine, d.CustomerID, d.ProductFamily, d.SubscriptionID))
		j++
	}
	all := ps.count() + total
	ps.list, ps.more = merged, all-len(merged)
	return ps.err()
}

// ErrBatchName is wrapped by the error Import returns for a batch name it
// refuses (empty, longer than 200 characters, or with control characters).
var ErrBatchName = errors.New("batch name")

func checkBatchName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: must not be empty", ErrBatchName)
	case len(name) > 200:
		return fmt.Errorf("%w: longer than 200 characters", ErrBatchName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("%w %q: contains control characters", ErrBatchName, name)
	}
	return nil
}
