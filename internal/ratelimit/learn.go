package ratelimit

import "time"

// How the governor learns a limit Partner Center enforces below the
// configured one (additive increase, multiplicative decrease; see
// docs/decisions.md). The learned rate is kept per limit in PostgreSQL, so
// every replica and every bucket of the limit (each customer's, for a
// per-customer limit) follows it.
const (
	// Decrease multiplies the learned rate on a 429 that answered a call
	// which had a token: the bucket had budget, so the limit is lower than
	// the governor's rate. A 429 on a bucket an earlier 429 already paused
	// answers a call sent before that pause and lowers nothing.
	Decrease = 0.7
	// IncreaseShare of the configured rate is added back for each
	// increase interval of calls taken without a 429 while the bucket runs
	// low (the calls use the rate, so their going through says something
	// about it), up to the configured rate.
	IncreaseShare = 0.02
	// IncreasePeriods is how many increase intervals one period of the
	// limit (its Per) holds.
	IncreasePeriods = 10
	// FloorShare of the configured rate is the least the learned rate
	// comes down to.
	FloorShare = 0.05
)

// configuredRate is l's configured rate, calls per second (before
// headroom).
func configuredRate(l Limit) float64 {
	return float64(l.Calls) / l.Per.Seconds()
}

// increaseInterval is the time between two increases of l's learned rate.
func increaseInterval(l Limit) time.Duration {
	return l.Per / IncreasePeriods
}

// ConfiguredRates returns every limit's configured rate, calls per second
// (before headroom), by the limit's name.
func (g *Governor) ConfiguredRates() map[string]float64 {
	out := map[string]float64{}
	for _, l := range g.byOp {
		out[l.Name] = configuredRate(l)
	}
	return out
}
