// Command gencsv writes a product-upgrade CSV (customer_id,product_family)
// of -rows rows with distinct random GUIDs, for scripts/bench-import.sh.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/google/uuid"
)

func main() {
	rows := flag.Int("rows", 1000000, "number of data rows")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	fmt.Fprintln(w, "customer_id,product_family")
	var id uuid.UUID
	for range *rows {
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				id[i+j] = byte(v >> (8 * j))
			}
		}
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		fmt.Fprintf(w, "%s,Azure\n", id)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
