package upgrade

import (
	"fmt"

	"github.com/google/uuid"
)

// ParseGUID returns s, a customer or subscription id, in the lower-case
// canonical form the ledger stores. Anything but the 36-character form
// (8-4-4-4-12 hexadecimal digits) is refused with an error that quotes s.
func ParseGUID(s string) (string, error) {
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		shown := s
		if r := []rune(shown); len(r) > 60 {
			shown = string(r[:60]) + "…"
		}
		return "", fmt.Errorf("%q is not a GUID (expected the form 3fa85f64-5717-4562-b3fc-2c963f66afa6)", shown)
	}
	return id.String(), nil
}
