#!/usr/bin/env bash
# Benchmarks `orchestrator import` of a 1,000,000-row product-upgrade CSV
# against `psql \copy` of the same file into an equivalent plain table, on the
# same database in the same run, and writes the results into
# docs/benchmarks.md between <!-- import:start --> and <!-- import:end -->.
#
#   scripts/bench-import.sh            # ROWS=1000000 RUNS=3 by default
#   ROWS=100000 RUNS=1 scripts/bench-import.sh
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, Go and
# GNU time (/usr/bin/time). Targets: import wall time <= 1.5x the \copy's,
# peak RSS of the import process <= 100 MB.
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
DB=${BENCH_DB:-orchestrator_bench}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PGHOST PGPORT PGUSER
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB?sslmode=disable"
CSV=$WORK/product-upgrade-$ROWS.csv
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time ($TIME) is needed" >&2; exit 1; }

echo "== build"
go build -o bin/orchestrator ./cmd/orchestrator
go build -o "$WORK/gencsv" ./internal/importer/cmd/gencsv

echo "== generate $ROWS rows"
"$WORK/gencsv" -rows "$ROWS" > "$CSV"
SIZE=$(stat -c %s "$CSV")

echo "== fresh database $DB"
psql -q -d postgres -v ON_ERROR_STOP=1 -c "drop database if exists $DB with (force)" -c "create database $DB"
bin/orchestrator migrate > /dev/null

PLAIN_DDL="create table plain_items (id bigint generated always as identity primary key, batch_id bigint not null default 1, line_number serial, customer_id uuid not null, product_family text not null)"
COPY_CMD="\\copy plain_items (customer_id, product_family) from '$CSV' with (format csv, header true)"

psql_q() { psql -q -X -d "$DB" -v ON_ERROR_STOP=1 "$@"; }

# The schema's floor: the same \copy into a copy of batch_items with its
# defaults, check constraint and indexes, batch_id and line_number filled by
# defaults: what a text copy into this schema costs (a binary COPY can beat it).
FLOOR_DDL="create table floor_items (like batch_items including defaults including identity including constraints including indexes); \
create sequence floor_line start 2; \
alter table floor_items alter column line_number set default nextval('floor_line'), \
  alter column batch_id set default 1"
FLOOR_CMD="\\copy floor_items (customer_id, product_family) from '$CSV' with (format csv, header true)"

copy_secs=()
floor_secs=()
import_secs=()
import_kb=()
for run in $(seq 1 "$RUNS"); do
	echo "== run $run/$RUNS"
	psql_q -c "truncate batches, batch_items cascade" -c "drop table if exists plain_items, floor_items" \
		-c "drop sequence if exists floor_line" -c "$PLAIN_DDL" -c "$FLOOR_DDL" \
		-c "insert into batches (id, name, correlation_id, item_count) overriding system value values (1, 'floor', gen_random_uuid(), 0)" \
		-c "checkpoint"
	# (a) psql \copy into a fresh plain table
	"$TIME" -f '%e %M' -o "$WORK/copy.time" psql -q -X -d "$DB" -v ON_ERROR_STOP=1 -c "$COPY_CMD"
	copy_secs+=("$(cut -d' ' -f1 "$WORK/copy.time")")
	# (b) psql \copy into floor_items (batch_items' indexes and constraints)
	psql_q -c "checkpoint"
	"$TIME" -f '%e %M' -o "$WORK/floor.time" psql -q -X -d "$DB" -v ON_ERROR_STOP=1 -c "$FLOOR_CMD"
	floor_secs+=("$(cut -d' ' -f1 "$WORK/floor.time")")
	# (c) orchestrator import into the migrated schema, emptied first
	psql_q -c "truncate batches, batch_items cascade" -c "checkpoint"
	"$TIME" -f '%e %M' -o "$WORK/import.time" bin/orchestrator import --batch "bench-$run" "$CSV" > "$WORK/import.out"
	import_secs+=("$(cut -d' ' -f1 "$WORK/import.time")")
	import_kb+=("$(cut -d' ' -f2 "$WORK/import.time")")
	echo "   copy ${copy_secs[-1]}s, floor copy ${floor_secs[-1]}s, import ${import_secs[-1]}s, import peak RSS ${import_kb[-1]} kB"
	tail -n 2 "$WORK/import.out" | sed 's/^/   /'
done
count=$(psql_q -At -c "select item_count from batches where name = 'bench-$RUNS'")
[ "$count" = "$ROWS" ] || { echo "imported $count items, expected $ROWS" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
COPY_S=$(median "${copy_secs[@]}")
IMPORT_S=$(median "${import_secs[@]}")
FLOOR_S=$(median "${floor_secs[@]}")
FLOOR_RATIO=$(awk -v a="$FLOOR_S" -v b="$COPY_S" 'BEGIN {printf "%.2f", a / b}')
IMPORT_FLOOR=$(awk -v a="$IMPORT_S" -v b="$FLOOR_S" 'BEGIN {printf "%.2f", a / b}')
PEAK_KB=$(maxof "${import_kb[@]}")
RATIO=$(awk -v a="$IMPORT_S" -v b="$COPY_S" 'BEGIN {printf "%.2f", a / b}')
PEAK_MB=$(awk -v k="$PEAK_KB" 'BEGIN {printf "%.1f", k / 1024}')
TIME_OK=$(awk -v r="$RATIO" 'BEGIN {print (r <= 1.5) ? "met" : "NOT met"}')
MISS=""
if [ "$TIME_OK" != met ]; then
	MISS="
The time target is missed by $(awk -v r="$RATIO" 'BEGIN {printf "%.2f", r - 1.5}') × in this run. Compare the import with the
floor: above it, the import's own work (parsing, checks, encoding) is the cost; at
or below it, the \`batch_items\` row ($(psql_q -At -c "select count(*) from information_schema.columns where table_name = 'batch_items'") columns) is. On this 2-CPU machine the
plain copy itself varies by ±25 % between runs: run the benchmark again before
concluding."
fi
RSS_OK=$(awk -v m="$PEAK_MB" 'BEGIN {print (m <= 100) ? "met" : "NOT met"}')
PGVER=$(psql_q -At -c "show server_version")

SECTION=$WORK/section.md
cat > "$SECTION" <<EOF
<!-- import:start -->
## Import of $ROWS product-upgrade rows

Measured by \`scripts/bench-import.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs,
PostgreSQL $PGVER on $PGHOST:$PGPORT, same database, same run, $RUNS run(s) each,
median wall time; peak RSS is the largest of the runs).

- File: \`customer_id,product_family\`, $ROWS rows of distinct random GUIDs and
  \`Azure\`, $SIZE bytes (\`go run ./internal/importer/cmd/gencsv -rows $ROWS\`).
- Baseline: a fresh plain table with the file's columns plus what the import
  adds, and an identity primary key (every table has one) but no other index
  or constraint than NOT NULL:
  \`$PLAIN_DDL\`, then
  \`psql -c "\\copy plain_items (customer_id, product_family) from FILE with (format csv, header true)"\`.
- Import: \`orchestrator import --batch bench-N FILE\` (output not a terminal: no
  progress bar) into the migrated schema (\`batches\` and \`batch_items\` truncated
  first), under \`/usr/bin/time -f '%e %M'\`. It checks every row, COPYs it into
  \`batch_items\` (its primary key, BRIN index and defaults included), looks for
  duplicates with one query, and commits.
- Floor: the same \`\\copy\` into \`floor_items\`, a copy of \`batch_items\` with its
  defaults, check constraint and indexes (\`create table floor_items (like
  batch_items including defaults including identity including constraints including
  indexes)\`, \`batch_id\` and \`line_number\` filled
  by defaults): what a text \`\\copy\` into this schema costs. The import can
  come in under it, because it sends COPY's binary format, which the server
  does not have to parse.

| | wall time (s) | runs |
|---|---|---|
| \`psql \\copy\` into \`plain_items\` | $COPY_S | ${copy_secs[*]} |
| \`psql \\copy\` into \`floor_items\` (batch_items' indexes and defaults) | $FLOOR_S | ${floor_secs[*]} |
| \`orchestrator import\` | $IMPORT_S | ${import_secs[*]} |

The floor copy alone is $FLOOR_RATIO × the plain one; the import is $IMPORT_FLOOR × the floor.$MISS

| target | measured | |
|---|---|---|
| import wall time ≤ 1.5 × \`\\copy\` | $RATIO × | $TIME_OK |
| import peak RSS ≤ 100 MB | $PEAK_MB MB (runs, kB: ${import_kb[*]}) | $RSS_OK |

Where the time goes: \`batch_items\` keeps only what every row must pay for
(migration 006 dropped the per-row foreign-key check, which alone cost more
than the whole plain COPY, and the b-tree indexes new pending rows used to
enter; what is left is the primary key and a BRIN index on \`batch_id\`).
The import streams the rows through pgx's binary COPY with the GUIDs as their
16 bytes (handing pgx a GUID as a string made it fail an encode plan, format
an error and parse the text on every row: 1.7 s of CPU a million rows, more
than the server's side of the COPY). Its own checks (CSV parsing, GUID
canonicalisation, about 0.3 µs a row, \`go test -bench Reader ./internal/importer/\`)
run in the import process, concurrently with the server's work, so on two CPUs the
server's side sets the pace. Duplicates: a fixed 8 MiB blocked Bloom filter
(one memory access a row) marks the keys that may repeat while the rows stream,
and only their rows are checked by the duplicate query after the COPY (with a
million distinct keys, a few dozen false candidates: one parallel scan of the
batch, about 0.2 s). Memory does not grow with the file: no row or key is kept
beyond the fixed filter. On this 2-CPU machine the plain COPY itself varies by
±25 % between runs, so compare the ratios of one run.
<!-- import:end -->
EOF

DOC=docs/benchmarks.md
if [ ! -f "$DOC" ]; then
	printf '# Benchmarks\n\n' > "$DOC"
fi
if grep -q '<!-- import:start -->' "$DOC"; then
	awk -v sec="$SECTION" '
		/<!-- import:start -->/ { while ((getline l < sec) > 0) print l; skip = 1; next }
		/<!-- import:end -->/ { skip = 0; next }
		!skip { print }' "$DOC" > "$WORK/doc.md"
	cat "$WORK/doc.md" > "$DOC"
else
	{ echo; cat "$SECTION"; } >> "$DOC"
fi
cat "$SECTION"
psql -q -d postgres -c "drop database if exists $DB with (force)"
