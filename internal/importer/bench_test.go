package importer

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkReader measures the importer's own cost per row (CSV parsing,
// checks, GUID canonicalisation), without the database.
func BenchmarkReader(b *testing.B) {
	var in bytes.Buffer
	in.WriteString("customer_id,product_family\n")
	const rows = 100000
	for i := range rows {
		fmt.Fprintf(&in, "%08x-0000-4000-8000-%012x,Azure\n", i, i)
	}
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := NewReader(bytes.NewReader(in.Bytes()), "bench.csv", "", 0)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, ok := rd.Next(); ok; _, ok = rd.Next() {
			n++
		}
		if err := rd.Err(); err != nil || n != rows {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
