// Package examples ships example input files, embedded so `orchestrator
// demo` works from any directory.
package examples

import "embed"

// FS holds the example CSV files.
//
//go:embed *.csv
var FS embed.FS

// ProductUpgradeCSV is the 200-customer product-upgrade example.
const ProductUpgradeCSV = "product-upgrade-200.csv"
