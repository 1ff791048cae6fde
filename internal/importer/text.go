package importer

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxLineBytes bounds a physical line: a row of the widest format, every
// field at MaxFieldBytes, is far shorter. It keeps a file without line
// breaks from being buffered whole.
const maxLineBytes = 64 << 10

// inputError is a file the CSV reader must not go on reading: binary data
// or a line too long to be a row. line is 1-based.
type inputError struct {
	line int
	msg  string
}

func (e *inputError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// textReader passes through UTF-8 text, stopping with an *inputError at the
// first NUL byte, invalid UTF-8 sequence or over-long line (everything
// before it is delivered first). It counts lines and bytes as it goes.
type textReader struct {
	r       io.Reader
	buf     []byte
	head    int // buf[head:ok] checked, not yet delivered
	ok      int
	tail    int // buf[ok:tail] read, not yet checked (a split rune)
	err     error
	lines   int   // line breaks delivered or checked
	sinceNL int   // bytes since the last line break
	offset  int64 // bytes checked
}

func newTextReader(r io.Reader) *textReader {
	return &textReader{r: r, buf: make([]byte, 32<<10)}
}

func (t *textReader) Read(p []byte) (int, error) {
	for t.head == t.ok {
		if t.err != nil {
			return 0, t.err
		}
		n := copy(t.buf, t.buf[t.ok:t.tail])
		t.head, t.ok, t.tail = 0, 0, n
		m, err := t.r.Read(t.buf[t.tail:])
		t.tail += m
		if err != nil {
			t.err = err
		}
		t.check(err != nil)
	}
	n := copy(p, t.buf[t.head:t.ok])
	t.head += n
	return n, nil
}

// check moves t.ok over the good bytes of buf[:tail], keeping back a rune
// split by the end of the buffer unless the input ended.
func (t *textReader) check(atEOF bool) {
	end := t.tail
	if !atEOF {
		end = completeRunes(t.buf[:t.tail])
	}
	b := t.buf[:end]
	bad := -1
	if i := bytes.IndexByte(b, 0); i >= 0 {
		bad = i
	}
	if !utf8.Valid(b) {
		for i := 0; i < len(b) && (bad < 0 || i < bad); {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				bad = i
				break
			}
			i += size
		}
	}
	good := b
	if bad >= 0 {
		good = b[:bad]
	}
	// Line lengths, over the good bytes.
	if nl := bytes.LastIndexByte(good, '\n'); nl < 0 {
		t.sinceNL += len(good)
	} else {
		if first := bytes.IndexByte(good, '\n'); t.sinceNL+first > maxLineBytes {
			t.fail(len(good), fmt.Sprintf("a line longer than %d bytes; this is not a customer list (reading stopped here)", maxLineBytes))
			return
		}
		t.lines += bytes.Count(good, []byte{'\n'})
		t.sinceNL = len(good) - nl - 1
	}
	if t.sinceNL > maxLineBytes {
		t.fail(len(good), fmt.Sprintf("a line longer than %d bytes; this is not a customer list (reading stopped here)", maxLineBytes))
		return
	}
	t.ok = len(good)
	t.offset += int64(len(good))
	if bad >= 0 {
		what := "invalid UTF-8"
		if b[bad] == 0 {
			what = "a NUL byte"
		}
		t.err = &inputError{line: t.lines + 1, msg: fmt.Sprintf(
			"binary data (%s at byte %d); expected a UTF-8 CSV text file (reading stopped here)", what, t.offset+1)}
	}
}

// fail stops at the line being read: nothing more of the buffer is given.
func (t *textReader) fail(_ int, msg string) {
	t.ok = 0
	t.err = &inputError{line: t.lines + 1, msg: msg}
}

// completeRunes returns len(b) less a UTF-8 sequence cut short at its end.
func completeRunes(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		c := b[i]
		if c < utf8.RuneSelf {
			return len(b) // ASCII: nothing pending
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}
