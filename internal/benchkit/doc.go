// Package benchkit holds helpers of scripts/bench-governor.sh: a River
// no-op throughput baseline (cmd/rivernoop) and the simulator's ground
// truth for a CSV of customers (cmd/simtruth). Nothing in the service
// imports it.
package benchkit
