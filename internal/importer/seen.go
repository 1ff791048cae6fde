package importer

import (
	"hash/maphash"
)

const (
	// seenBits is the size of the filter: 8 MiB, whatever the file's size.
	seenBits = 1 << 26
	// seenHashes is how many bits each key sets.
	seenHashes = 4
	// maxCandidates bounds the keys kept for the duplicate query; past it
	// the query looks at the whole batch instead.
	maxCandidates = 100_000
)

// seenFilter remembers which duplicate keys a file has shown, in constant
// memory: a Bloom filter answers "certainly new" or "maybe seen". Keys that
// may have been seen are kept as candidates, and only those are checked by
// the duplicate query after the COPY. With 8 MiB and a million distinct keys
// a few dozen are false candidates; a real duplicate is always a candidate.
type seenFilter struct {
	seed       maphash.Seed
	bits       []uint64
	candidates map[string]struct{} // customer ids of keys that may repeat
	overflow   bool                // too many candidates: check the whole batch
}

func newSeenFilter() *seenFilter {
	return &seenFilter{seed: maphash.MakeSeed(), bits: make([]uint64, seenBits/64), candidates: map[string]struct{}{}}
}

// add records key (of customer) and keeps customer as a candidate when key
// may have been seen before. The filter is blocked: a key's bits all sit in
// one 64-bit word, so each row costs one memory access to the 8 MiB table
// instead of one per bit, for a false-candidate rate that stays negligible
// (a few dozen in a million distinct keys).
func (f *seenFilter) add(key, customer string) {
	h := maphash.String(f.seed, key)
	word := &f.bits[(h>>32)%uint64(len(f.bits))]
	var mask uint64
	for i := range seenHashes {
		mask |= 1 << ((h >> (6 * i)) & 63)
	}
	seen := *word&mask == mask
	*word |= mask
	if !seen || f.overflow {
		return
	}
	if len(f.candidates) >= maxCandidates {
		f.overflow, f.candidates = true, nil
		return
	}
	f.candidates[customer] = struct{}{}
}

// customers returns the candidate customer ids, or nil with all true when
// the whole batch must be checked.
func (f *seenFilter) customers() (ids []string, all bool) {
	if f.overflow {
		return nil, true
	}
	for c := range f.candidates {
		ids = append(ids, c)
	}
	return ids, false
}
