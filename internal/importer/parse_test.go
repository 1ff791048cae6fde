package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pcupgrade/orchestrator/internal/store"
)

const (
	c1 = "c1958bc7-3284-4952-a257-de594ee64743"
	c2 = "2e56c7f5-e120-4ca4-bff3-7da763b4d777"
)

func TestParseAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want []store.NewItem
	}{
		{
			name: "plain",
			in:   "customer_id,product_family\n" + c1 + ",Azure\n" + c2 + ",azure\n",
			want: []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}, {LineNumber: 3, CustomerID: c2, ProductFamily: "Azure"}},
		},
		{
			name: "spreadsheet export: BOM, CRLF, header case and spaces, upper-case GUID, blank line",
			in:   "\ufeff Customer_ID , PRODUCT_FAMILY \r\n" + strings.ToUpper(c1) + " , \r\n\r\n" + c2 + ",Azure\r\n",
			want: []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}, {LineNumber: 4, CustomerID: c2, ProductFamily: "Azure"}},
		},
		{
			name: "product_family column optional",
			in:   "customer_id\n" + c1 + "\n",
			want: []store.NewItem{{LineNumber: 2, CustomerID: c1, ProductFamily: "Azure"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(strings.NewReader(tt.in), "in.csv")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want []string // problems, in order
	}{
		{"empty file", "", []string{"line 1: file is empty"}},
		{"header only", "customer_id\n", []string{"line 1: no customer rows"}},
		{"unknown and missing column", "customer,family\n", []string{`line 1: unknown column "customer"`, `line 1: unknown column "family"`, "line 1: missing column customer_id"}},
		{"wrong delimiter", "customer_id;product_family\n" + c1 + ";Azure\n", []string{"other than commas", "missing column customer_id"}},
		{
			name: "every bad row is listed",
			in: "customer_id,product_family\n" +
				"not-a-guid,Azure\n" +
				c1 + ",Office\n" +
				",Azure\n" +
				c2 + ",Azure,extra\n" +
				c1 + ",Azure\n" +
				strings.ToUpper(c1) + ",azure\n",
			want: []string{
				`line 2, column customer_id: "not-a-guid" is not a GUID`,
				`line 3, column product_family: "Office" is not supported`,
				"line 4, column customer_id: is empty",
				"line 5: has 3 fields, the header has 2",
				"line 7, column customer_id: duplicate of line 6",
			},
		},
		{"broken quote", "customer_id\n\"" + c1 + "\n", []string{"line 2:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tt.in), "in.csv")
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "got %v", err)
			require.Len(t, ve.Problems, len(tt.want), "problems: %v", ve.Problems)
			for i, w := range tt.want {
				require.Contains(t, ve.Problems[i].String(), w)
			}
			require.Contains(t, err.Error(), "in.csv:", "messages name the file")
			require.Contains(t, err.Error(), "nothing imported")
		})
	}
}

func TestParseCapsListedProblems(t *testing.T) {
	t.Parallel()

	in := "customer_id\n" + strings.Repeat("bad\n", maxProblems+7)
	_, err := Parse(strings.NewReader(in), "big.csv")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Problems, maxProblems)
	require.Equal(t, 7, ve.More)
	require.Contains(t, err.Error(), "and 7 more")
}
