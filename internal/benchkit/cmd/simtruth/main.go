// Command simtruth prints the simulator's ground truth for the customers
// of a product-upgrade CSV under a scenario: one line per customer,
// "customer_id eligible duration_seconds" (the upgrade's lifecycle in real
// seconds, clock_speedup applied), computed by simulator.Predict, the same
// code the simulator's handlers use.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pcupgrade/orchestrator/internal/simulator"
)

func main() {
	scenario := flag.String("scenario", "", "scenario YAML")
	file := flag.String("csv", "", "product-upgrade CSV (customer_id,product_family)")
	flag.Parse()
	if err := run(*scenario, *file); err != nil {
		fmt.Fprintln(os.Stderr, "simtruth:", err)
		os.Exit(1)
	}
}

func run(scenario, file string) error {
	opts, err := simulator.LoadScenario(scenario)
	if err != nil {
		return err
	}
	sim, err := simulator.New(opts)
	if err != nil {
		return err
	}
	speed := opts.ClockSpeedup
	if speed <= 0 {
		speed = 1
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil { // header
		return err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		id := strings.ToLower(strings.TrimSpace(rec[0]))
		o := sim.Predict(id)
		fmt.Printf("%s %t %.3f\n", id, o.Eligible, o.Duration.Seconds()/speed)
	}
}
