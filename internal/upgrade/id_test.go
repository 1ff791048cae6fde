package upgrade

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseGUID(t *testing.T) {
	t.Parallel()
	got, err := ParseGUID("C1958BC7-3284-4952-A257-DE594EE64743")
	require.NoError(t, err)
	require.Equal(t, "c1958bc7-3284-4952-a257-de594ee64743", got)
	for _, bad := range []string{"", "abc", "c1958bc7-3284-4952-a257-de594ee6474", "{c1958bc7-3284-4952-a257-de594ee64743}",
		"urn:uuid:c1958bc7-3284-4952-a257-de594ee64743", "c1958bc732844952a257de594ee64743", "x'; drop table batches; --"} {
		_, err := ParseGUID(bad)
		require.Error(t, err, bad)
		require.Contains(t, err.Error(), "is not a GUID")
		require.NotContains(t, err.Error(), "SQLSTATE")
	}
}
