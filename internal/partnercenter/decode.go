package partnercenter

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// flexString decodes a JSON string, number or boolean into its text, since
// Partner Center sends error codes both as numbers and as strings. Null
// decodes to "". Any other JSON value is kept as its raw text rather than
// failing the whole response.
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
	default:
		*f = flexString(b)
	}
	return nil
}

// wireCode returns an error code's raw JSON as text, exactly as sent: a
// number's digits, a string's content (trimmed). Null and an absent code
// give "".
func wireCode(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var f flexString
	if err := f.UnmarshalJSON(raw); err != nil {
		return ""
	}
	return string(f)
}

// flexTime decodes the date-times Partner Center sends: RFC 3339 with any
// number of fractional digits ("2019-08-29T23:47:28.8524555Z"), with an
// offset or with no zone at all (read as UTC), or a bare date. Null, empty,
// the .NET zero value ("0001-01-01T00:00:00") and unparseable text decode to
// nil, so one odd timestamp never fails a whole response.
type flexTime struct {
	t *time.Time
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexTime) UnmarshalJSON(b []byte) error {
	f.t = nil
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil //nolint:nilerr // lenient by design: a non-string time is ignored.
	}
	f.t = parseTime(s)
	return nil
}

// parseTime parses s leniently as described on flexTime, returning nil when
// there is no usable time.
func parseTime(s string) *time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	// Tried in order; when parsing, fractional seconds are accepted by every
	// layout that has seconds.
	layouts := [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05",
		"2006-01-02",
	}
	for _, layout := range layouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if t.Year() <= 1 {
			return nil
		}
		t = t.UTC()
		return &t
	}
	return nil
}

// collection decodes a list answer: the {"totalCount", "items": [...]}
// envelope Partner Center documents, a bare JSON array, or an object whose
// list sits under one of altKeys instead of "items" (the transition history
// sample uses "transition"). Keys match case-insensitively; an envelope
// without any list, or with null, decodes to an empty list.
type collection[T any] struct {
	items   []T
	altKeys []string
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *collection[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var items []T
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		c.items = items
		return nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	keys := append([]string{"items"}, c.altKeys...)
	for _, want := range keys {
		for k, raw := range env {
			if !strings.EqualFold(k, want) {
				continue
			}
			var items []T
			if err := json.Unmarshal(raw, &items); err != nil {
				return err
			}
			c.items = items
			return nil
		}
	}
	c.items = nil
	return nil
}

// list returns the decoded items, never nil.
func (c *collection[T]) list() []T {
	if c.items == nil {
		return []T{}
	}
	return c.items
}
