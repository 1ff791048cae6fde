#!/usr/bin/env bash
# Runs the named benchmark steps (all by default: scripts/bench.sh [STEP...])
# against PostgreSQL on 127.0.0.1:5432 and rewrites each step's own section
# of docs/benchmarks.md, between <!-- STEP:start --> and <!-- STEP:end -->.
# To add a benchmark: write a step_NAME function that prints its section's
# Markdown, and add NAME to STEPS.
set -euo pipefail
cd "$(dirname "$0")/.."
DOC=docs/benchmarks.md
STEPS=(metrics-scrape)

# replace_section NAME FILE: put FILE's content between NAME's markers.
replace_section() {
	local name=$1 body=$2
	[[ -f $DOC ]] || printf '# Benchmarks\n\nWritten by `make bench` (scripts/bench.sh); each section is rewritten by its own step.\n' >"$DOC"
	if ! grep -q "<!-- $name:start -->" "$DOC"; then
		printf '\n<!-- %s:start -->\n<!-- %s:end -->\n' "$name" "$name" >>"$DOC"
	fi
	awk -v name="$name" -v body="$body" '
		$0 == "<!-- " name ":start -->" { print; while ((getline line < body) > 0) print line; skip = 1; next }
		$0 == "<!-- " name ":end -->" { skip = 0 }
		!skip { print }' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
}

step_metrics-scrape() {
	local cmd="go test -run '^\$' -bench '^Benchmark(Scrape|Snapshot)\$' -benchtime 20x -count 3 ./internal/metrics/"
	local out
	out=$(eval "$cmd" 2>&1) || { echo "$out" >&2; return 1; }
	echo "$out" >&2
	local ms
	ms=$(awk '/^BenchmarkScrape/ { printf "%s%.2f", sep, $3 / 1e6; sep = ", " }' <<<"$out")
	local snap
	snap=$(awk '/^BenchmarkSnapshot/ { printf "%s%.0f", sep, $3 / 1e6; sep = ", " }' <<<"$out")
	cat <<MD
## Metrics scrape at 1,000,000 items

One \`GET /metrics\` as \`serve\` answers it: the database-backed gauges come
from the snapshot a background refresher keeps (one snapshot query per
\`DefaultDBTTL\`, 10 s, per process, whether Prometheus scrapes or not; at most a tenth of the time when slow), on a
storetest database holding
1,000,000 items (\`internal/metrics/testdata/bench-1m.sql\`: 30 finished
batches of 30,000 items, the 20 active batches of 5,000, 850,000 line items,
300,000 River jobs), after \`vacuum analyze\`. **Target: ≤ 50 ms.**

Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), PostgreSQL $(psql -h 127.0.0.1 -U postgres -tAc 'show server_version' 2>/dev/null || echo '?'):
ms per scrape, 3 runs of 20 scrapes: **$ms** (target met when ≤ 50).
The refresher's snapshot query itself, for comparison (runs every 10 s, or ten times its duration when longer, in
the background, never during a scrape): **$snap** ms.

\`\`\`sh
make bench   # or: $cmd
\`\`\`
MD
}

[[ $# -gt 0 ]] && STEPS=("$@")
for s in "${STEPS[@]}"; do
	printf '== bench %s\n' "$s" >&2
	body=$(mktemp)
	"step_$s" >"$body"
	replace_section "$s" "$body"
	rm -f "$body"
done
