package importer

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSeenFilterKeepsEveryRepeatAsACandidate(t *testing.T) {
	t.Parallel()
	f := newSeenFilter()
	for i := range 200_000 {
		f.add(fmt.Sprintf("customer-%d|azure|", i), fmt.Sprintf("customer-%d", i))
	}
	ids, all := f.customers()
	require.False(t, all)
	require.Less(t, len(ids), 20, "distinct keys are almost never candidates")

	f.add("customer-7|azure|", "customer-7")
	f.add("customer-199999|azure|", "customer-199999")
	ids, _ = f.customers()
	require.Contains(t, ids, "customer-7", "a repeated key is always a candidate")
	require.Contains(t, ids, "customer-199999")
}

func TestSeenFilterFallsBackToTheWholeBatch(t *testing.T) {
	t.Parallel()
	f := newSeenFilter()
	for i := range maxCandidates + 1 {
		key := fmt.Sprintf("c-%d|azure|", i)
		f.add(key, key)
		f.add(key, key)
	}
	ids, all := f.customers()
	require.True(t, all, "past the cap the duplicate query checks every row")
	require.Nil(t, ids)
}
