// Command simtruth prints the simulator's ground truth for the customers
// of a product-upgrade CSV under a scenario: one line per customer,
// "customer_id eligible duration_seconds" (the upgrade's lifecycle in real
// seconds, clock_speedup applied), computed by simulator.Predict, the same
// code the simulator's handlers use. For a subscription CSV
// (customer_id,subscription_id) it prints "customer_id subscription_id
// offer_id", the first eligible upgrade target (simulator
// PredictSubscriptionUpgrade), or "-" when there is none.
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
	file := flag.String("csv", "", "product-upgrade CSV (customer_id,product_family) or subscription CSV (customer_id,subscription_id)")
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
	header, err := r.Read()
	if err != nil {
		return err
	}
	subscriptions := len(header) > 1 && strings.TrimSpace(header[1]) == "subscription_id"
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		id := strings.ToLower(strings.TrimSpace(rec[0]))
		if subscriptions {
			sub := strings.ToLower(strings.TrimSpace(rec[1]))
			offer := "-"
			if ids := sim.PredictSubscriptionUpgrade(id, sub).EligibleOfferIDs(); len(ids) > 0 {
				offer = ids[0]
			}
			fmt.Printf("%s %s %s\n", id, sub, offer)
			continue
		}
		o := sim.Predict(id)
		fmt.Printf("%s %t %.3f\n", id, o.Eligible, o.Duration.Seconds()/speed)
	}
}
