#!/usr/bin/env bash
# Benchmarks the rate governor and the service's overhead with the real
# binary against `orchestrator simulate` run as a separate process, on fresh
# databases, and writes the results into docs/benchmarks.md between
# <!-- governor:start --> and <!-- governor:end -->.
#
#   scripts/bench-governor.sh
#   HEADROOM_ROW=1 scripts/bench-governor.sh   # also a quota run at headroom 1.0 (+75 s)
#
# Phases (one run, ratios measured in the same run):
#   1 quota     3 serves, 3,000 customers, eligibility always backlogged;
#               answered calls per endpoint in a 60 s window ÷ the limit.
#   2 e2e       3 serves, 600 customers to the end; time ÷ the minimum the
#               limits allow; calls per customer ÷ the API's minimum.
#   3 overhead  1 serve, no limits, no latency: items/s and jobs/s ÷ River's
#               own no-op throughput (internal/benchkit/cmd/rivernoop).
#   4 memory    1 serve, 100,000 items: peak RSS (VmHWM) over 60 s.
#   5 subs      3 serves, 1,000 subscription upgrades of one customer, the
#               simulator's real limit 40 % of the configured one: calls ÷
#               the API's minimum, 429 share after the first simulated
#               minute, time ÷ the minimum the real limit allows, and the
#               learned rate over time.
#
# Time is compressed 10x: a "simulated minute" is 6 real seconds. The
# simulator limits each product-upgrade endpoint to R=180 calls per 6 s
# (examples/scenarios/bench-governor-*.yaml) and the service is given the
# same numbers (rate_limits.limits.*: {calls: 180, per: 6s}); everything else
# is the default, except polling intervals, scaled by the same 10x.
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, curl,
# python3 and Go.
set -euo pipefail

cd "$(dirname "$0")/.."
R=180              # calls per PER on each product-upgrade endpoint
PER=6              # seconds: one simulated minute
QUOTA_ITEMS=3000   # phase 1: customers queued (eligibility stays backlogged)
WARMUP=12          # phase 1: seconds before the window (initial bursts spent)
WINDOW=60          # phase 1: the window, 10 simulated minutes
E2E_ITEMS=600      # phase 2
SERVES=3           # phases 1 and 2
OVERHEAD_ITEMS=3000
NOOP_JOBS=10000
RSS_ITEMS=100000
RSS_SECS=60
SUBS_ITEMS=1000    # phase 5: subscription upgrades, one customer
SUBS_CONF=500      # phase 5: the service's subscriptions limit per PER
SUBS_REAL=200      # phase 5: the simulator's (40 % of it)
MAX_WORKERS=20     # workers.max_workers default
PREFIX=gov_bench_$$
. scripts/bench-lib.sh
build internal/importer/cmd/gencsv internal/benchkit/cmd/rivernoop internal/benchkit/cmd/simtruth

# write_config FILE CALLS PER HEADROOM INITIAL MAX
# (database_max_conns 10: the PostgreSQL server is shared, 100 connections.)
write_config() {
	cat >"$1" <<EOF
database_max_conns: 10
polling:
  initial_interval: $5
  max_interval: $6
rate_limits:
  headroom: $4
  limits:
    product_upgrade_eligibility: {calls: $2, per: $3, scope: partner}
    product_upgrade_create: {calls: $2, per: $3, scope: partner}
    product_upgrade_status: {calls: $2, per: $3, scope: partner}
EOF
}

# start_serve CONFIG NAME: one `serve`, waits for its "serving" log line;
# the pid is appended to SERVE_PIDS.
start_serve() {
	local logf=$WORK/serve-$2.log
	PARTNER_CENTER_BASE_URL=$SIM_URL PARTNER_CENTER_TOKEN_URL=$SIM_URL/partner-tenant/oauth2/v2.0/token \
		"$BIN" --config "$1" serve --listen 127.0.0.1:0 >"$logf" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	SERVE_PIDS+=("$pid")
	for _ in $(seq 300); do grep -q '"msg":"serving"' "$logf" && return 0; sleep 0.1; done
	echo "serve did not start" >&2
	cat "$logf" >&2
	return 1
}
stop_serves() {
	local pid
	for pid in "${SERVE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${SERVE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	SERVE_PIDS=()
}
stop_sim() { kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; }

# cpu_sample: "busy_jiffies total_jiffies" of the whole machine.
cpu_sample() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
cpu_busy() { # cpu_busy "B0 T0" "B1 T1" -> percent busy of all CPUs
	python3 -c 'import sys; b0,t0=map(int,sys.argv[1].split()); b1,t1=map(int,sys.argv[2].split()); print("%.0f" % (100*(b1-b0)/max(1,t1-t0)))' "$1" "$2"
}
# proc_jiffies PID...: CPU time (user+system, jiffies) the processes used so far.
proc_jiffies() { local p t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
open_items() { q "select count(*) from batch_items where status in ('pending','in_progress')"; }
# wait_settled TIMEOUT: until no item is pending or in progress.
wait_settled() {
	local deadline=$(($(date +%s) + $1))
	while [ "$(open_items)" != 0 ]; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "items still open after $1 s" >&2; return 1; }
		sleep 0.5
	done
}

SERVE_PIDS=()
SCEN_QUOTA=examples/scenarios/bench-governor-quota.yaml
SCEN_E2E=examples/scenarios/bench-governor-e2e.yaml
SCEN_FAST=examples/scenarios/bench-governor-overhead.yaml
SCEN_SUBS=examples/scenarios/bench-governor-subs.yaml
GOV_CFG=$WORK/governor.yaml
write_config "$GOV_CFG" "$R" "${PER}s" 0.98 3s 60s

# ---------------------------------------------------------------- phase 1
# quota_run NAME CONFIG: 3 serves, QUOTA_ITEMS customers, window stats.
quota_run() {
	local name=$1 cfg=$2
	log "quota ($name): $SERVES serves, $QUOTA_ITEMS customers, ${WARMUP}s warm-up + ${WINDOW}s window"
	fresh_db "quota_$name"
	"$WORK/gencsv" -rows "$QUOTA_ITEMS" -seed 11 >"$WORK/quota.csv"
	"$BIN" import --batch quota "$WORK/quota.csv" >/dev/null
	start_sim --scenario "$SCEN_QUOTA"
	for i in $(seq "$SERVES"); do start_serve "$cfg" "quota-$name-$i"; done
	sleep "$WARMUP"
	stats "$WORK/quota-$name-s0.json"
	local c0 c1 t0 t1
	c0=$(cpu_sample)
	local sj0 mj0 sj1 mj1
	sj0=$(proc_jiffies "${SERVE_PIDS[@]}")
	mj0=$(proc_jiffies "$SIM_PID")
	t0=$(date +%s.%N)
	sleep $((WINDOW / 2))
	top -b -n1 -w 200 | head -n 16 >"$WORK/quota-$name-top.txt"
	cat /proc/loadavg >"$WORK/quota-$name-loadavg.txt"
	sleep $((WINDOW - WINDOW / 2))
	stats "$WORK/quota-$name-s1.json"
	t1=$(date +%s.%N)
	c1=$(cpu_sample)
	sj1=$(proc_jiffies "${SERVE_PIDS[@]}")
	mj1=$(proc_jiffies "$SIM_PID")
	echo "$(cpu_busy "$c0" "$c1") $(python3 -c "print($t1-$t0)") $(open_items) $((sj1 - sj0)) $((mj1 - mj0)) $(getconf CLK_TCK)" >"$WORK/quota-$name-meta.txt"
	stop_serves
	stop_sim
	log "quota ($name): $(cat "$WORK/quota-$name-meta.txt") (cpu% secs open)"
}
quota_run default "$GOV_CFG"
if [ "${HEADROOM_ROW:-0}" = 1 ]; then
	write_config "$WORK/governor-h1.yaml" "$R" "${PER}s" 1.0 3s 60s
	quota_run h1 "$WORK/governor-h1.yaml"
fi

# ---------------------------------------------------------------- phase 2
log "e2e: $SERVES serves, $E2E_ITEMS customers to the end"
fresh_db e2e
"$WORK/gencsv" -rows "$E2E_ITEMS" -seed 12 >"$WORK/e2e.csv"
"$WORK/simtruth" -scenario "$SCEN_E2E" -csv "$WORK/e2e.csv" >"$WORK/e2e-truth.txt"
start_sim --scenario "$SCEN_E2E"
for i in $(seq "$SERVES"); do start_serve "$GOV_CFG" "e2e-$i"; done
E2E_C0=$(cpu_sample)
"$BIN" import --batch e2e "$WORK/e2e.csv" >/dev/null
wait_settled 180
E2E_CPU=$(cpu_busy "$E2E_C0" "$(cpu_sample)")
stats "$WORK/e2e-stats.json"
q "select extract(epoch from (select max(status_changed_at) from batch_items) - (select min(created_at) from batch_items))" >"$WORK/e2e-secs.txt"
q "select bi.customer_id from upgrades u join batch_items bi on bi.id = u.item_id order by u.created_at desc limit 1" >"$WORK/e2e-last.txt"
q "select status, count(*) from batch_items group by 1 order by 1" | tr '\n' ' ' >"$WORK/e2e-statuses.txt"
q "select extract(epoch from (select max(created_at) from api_calls where operation = 'product_upgrade_eligibility') - (select min(created_at) from batch_items))" >"$WORK/e2e-busy.txt"
q "select extract(epoch from (select max(status_changed_at) from batch_items) - (select max(created_at) from api_calls where operation = 'product_upgrade_create'))" >"$WORK/e2e-tail.txt"
q "select percentile_cont(array[0.5, 0.9, 1]::float8[]) within group (order by extract(epoch from least(u.finished_at, coalesce((select max(l.upgraded_date) from line_items l where l.item_id = u.item_id), u.finished_at)) - u.created_at)) from upgrades u where u.finished_at is not null" >"$WORK/e2e-ladder.txt"
stop_serves
stop_sim
log "e2e: $(cat "$WORK/e2e-secs.txt") s, $(cat "$WORK/e2e-statuses.txt")"

# ---------------------------------------------------------------- phase 5
# (run here, with the other rate-limited phases)
log "subs: $SERVES serves, $SUBS_ITEMS subscription upgrades, real limit $SUBS_REAL of configured $SUBS_CONF per ${PER}s"
SUBS_CFG=$WORK/governor-subs.yaml
write_config "$SUBS_CFG" "$R" "${PER}s" 0.98 3s 60s
printf '    subscriptions: {calls: %s, per: %ss, scope: customer}\n' "$SUBS_CONF" "$PER" >>"$SUBS_CFG"
fresh_db subs
# One customer's subscriptions that have an eligible upgrade path (ground
# truth from the simulator's own code), each with its target offer: every
# item needs exactly one list and one perform.
python3 -c '
import random, uuid, sys
rng = random.Random(21)
cust = uuid.UUID(int=rng.getrandbits(128), version=4)
print("customer_id,subscription_id")
for _ in range(4 * int(sys.argv[1])):
    print(f"{cust},{uuid.UUID(int=rng.getrandbits(128), version=4)}")
' "$SUBS_ITEMS" >"$WORK/subs-candidates.csv"
"$WORK/simtruth" -scenario "$SCEN_SUBS" -csv "$WORK/subs-candidates.csv" >"$WORK/subs-truth.txt"
{ echo "customer_id,subscription_id,target_offer_id"; awk -v n="$SUBS_ITEMS" '$3 != "-" && c < n { print $1 "," $2 "," $3; c++ }' "$WORK/subs-truth.txt"; } >"$WORK/subs.csv"
[ "$(($(wc -l <"$WORK/subs.csv") - 1))" = "$SUBS_ITEMS" ] || { echo "not enough eligible subscriptions" >&2; exit 1; }
start_sim --scenario "$SCEN_SUBS"
for i in $(seq "$SERVES"); do start_serve "$SUBS_CFG" "subs-$i"; done
SUBS_C0=$(cpu_sample)
"$BIN" import --batch subs --operation subscription_upgrade "$WORK/subs.csv" >/dev/null
SUBS_T0=$(date +%s.%N)
: >"$WORK/subs-learned.txt"
SUBS_MINUTE_TAKEN=0
while [ "$(open_items)" != 0 ]; do
	el=$(python3 -c "print(f'{$(date +%s.%N) - $SUBS_T0:.1f}')")
	if [ "$SUBS_MINUTE_TAKEN" = 0 ] && python3 -c "import sys; sys.exit(0 if $el >= $PER else 1)"; then
		stats "$WORK/subs-minute.json"
		SUBS_MINUTE_TAKEN=1
	fi
	echo "$el $(q "select coalesce(min(learned_per_sec), 0) from rate_buckets where key = 'subscriptions'")" >>"$WORK/subs-learned.txt"
	python3 -c "import sys; sys.exit(0 if $el < 300 else 1)" || { echo "subscription items still open after 300 s" >&2; exit 1; }
	sleep 0.5
done
SUBS_CPU=$(cpu_busy "$SUBS_C0" "$(cpu_sample)")
stats "$WORK/subs-stats.json"
[ -f "$WORK/subs-minute.json" ] || cp "$WORK/subs-stats.json" "$WORK/subs-minute.json"
q "select extract(epoch from (select max(status_changed_at) from batch_items) - (select min(created_at) from batch_items))" >"$WORK/subs-secs.txt"
q "select status, count(*) from batch_items group by 1 order by 1" | tr '\n' ' ' >"$WORK/subs-statuses.txt"
q "select count(*) from batch_items where status = 'ineligible'" >"$WORK/subs-ineligible.txt"
q "select extract(epoch from (select min(created_at) from api_calls) - (select min(created_at) from batch_items))" >"$WORK/subs-first.txt"
"$BIN" status --batch subs --json >"$WORK/subs-status.json"
stop_serves
stop_sim
log "subs: $(cat "$WORK/subs-secs.txt") s, $(cat "$WORK/subs-statuses.txt"), learned $(tail -n 1 "$WORK/subs-learned.txt")"

# ---------------------------------------------------------------- phase 3
log "overhead: 1 serve, $OVERHEAD_ITEMS customers, no limits; then River no-op x $NOOP_JOBS"
FAST_CFG=$WORK/fast.yaml
write_config "$FAST_CFG" 1000000 1s 0.98 100ms 1s
fresh_db overhead
"$WORK/gencsv" -rows "$OVERHEAD_ITEMS" -seed 13 >"$WORK/overhead.csv"
start_sim --scenario "$SCEN_FAST"
start_serve "$FAST_CFG" overhead
OV_C0=$(cpu_sample)
"$BIN" import --batch overhead "$WORK/overhead.csv" >/dev/null
wait_settled 240
OV_CPU=$(cpu_busy "$OV_C0" "$(cpu_sample)")
stop_serves
stop_sim
q "select extract(epoch from (select max(status_changed_at) from batch_items) - (select min(created_at) from batch_items))" >"$WORK/ov-secs.txt"
q "select kind, count(*) from river_job where state = 'completed' and finalized_at <= (select max(status_changed_at) from batch_items) group by 1 order by 1" >"$WORK/ov-jobs.txt"
q "select status, count(*) from batch_items group by 1 order by 1" | tr '\n' ' ' >"$WORK/ov-statuses.txt"
NOOP_C0=$(cpu_sample)
"$WORK/rivernoop" -db "$DATABASE_URL" -jobs "$NOOP_JOBS" -workers "$MAX_WORKERS" >"$WORK/noop.json"
NOOP_CPU=$(cpu_busy "$NOOP_C0" "$(cpu_sample)")
log "overhead: $(cat "$WORK/ov-secs.txt") s; noop: $(cat "$WORK/noop.json")"

# ---------------------------------------------------------------- phase 4
log "memory: 1 serve, $RSS_ITEMS customers, VmHWM over ${RSS_SECS}s"
fresh_db rss
"$WORK/gencsv" -rows "$RSS_ITEMS" -seed 14 >"$WORK/rss.csv"
"$BIN" import --batch rss "$WORK/rss.csv" >/dev/null
start_sim --scenario "$SCEN_FAST"
start_serve "$FAST_CFG" rss
RSS_PID=${SERVE_PIDS[0]}
: >"$WORK/rss-samples.txt"
RSS_C0=$(cpu_sample)
for _ in $(seq "$RSS_SECS"); do
	sleep 1
	awk '/^VmHWM|^VmRSS/ { printf "%s %s ", $1, $2 } END { print "" }' "/proc/$RSS_PID/status" >>"$WORK/rss-samples.txt" 2>/dev/null || break
done
RSS_CPU=$(cpu_busy "$RSS_C0" "$(cpu_sample)")
RSS_SETTLED=$(q "select count(*) from batch_items where status not in ('pending','in_progress')")
stop_serves
stop_sim
log "memory: $(tail -n 1 "$WORK/rss-samples.txt"), $RSS_SETTLED settled"

T_TOTAL=$(($(date +%s) - T_START))

# ---------------------------------------------------------------- report
SECTION=$WORK/section.md
python3 - "$WORK" "$SECTION" <<PY
import json, sys, os, math
W, out = sys.argv[1], sys.argv[2]
R, PER = $R, $PER
rate = R / PER
def rd(n): return open(os.path.join(W, n)).read().strip()
def js(n): return json.load(open(os.path.join(W, n)))
EPS = ["product_upgrade_eligibility", "product_upgrade_create", "product_upgrade_status"]
SHORT = {"product_upgrade_eligibility": "eligibility", "product_upgrade_create": "create", "product_upgrade_status": "status"}
rows = []  # (metric, measured, target, verdict)
def verdict(ok): return "met" if ok else "**not met**"

lines = []
P = lines.append

# ---- phase 1
quota = {}
for name in ["default", "h1"]:
    if not os.path.exists(os.path.join(W, f"quota-{name}-s1.json")):
        continue
    s0, s1 = js(f"quota-{name}-s0.json"), js(f"quota-{name}-s1.json")
    cpu, secs, open_left, sj, mj, hz = rd(f"quota-{name}-meta.txt").split()
    secs = float(secs)
    serve_cpu = 100 * int(sj) / int(hz) / secs  # percent of one CPU, 3 serves together
    sim_cpu = 100 * int(mj) / int(hz) / secs
    per = {}
    all_calls = all_429 = 0
    for op in EPS + ["token"]:
        a, b = s0["calls"].get(op, {}), s1["calls"].get(op, {})
        d = {k: b.get(k, 0) - a.get(k, 0) for k in b}
        n = sum(d.values()); t429 = d.get("429", 0)
        per[op] = (n - t429, t429, n)
        if op != "token":
            all_calls += n; all_429 += t429
    run429 = sum(s1["calls"].get(op, {}).get("429", 0) for op in EPS)
    runall = sum(sum(s1["calls"].get(op, {}).values()) for op in EPS)
    quota[name] = dict(per=per, secs=secs, cpu=cpu, open=int(open_left), share429=all_429 / max(1, all_calls), serve_cpu=serve_cpu, sim_cpu=sim_cpu,
                       run429=run429, runall=runall, load=rd(f"quota-{name}-loadavg.txt"),
                       top=rd(f"quota-{name}-top.txt"), viol=s1.get("retry_after_violations", 0))
q = quota["default"]
for op in EPS:
    ok, t429, n = q["per"][op]
    ratio = ok / (secs := q["secs"]) / rate
    tgt = "≥ 0.95" if op == "product_upgrade_eligibility" else "— (fed by eligibility)"
    rows.append((f"1. quota use, {SHORT[op]}: answered calls/s ÷ R (3 serves, headroom 0.98)",
                 f"{ratio:.3f} ({ok} in {secs:.1f} s)", tgt,
                 verdict(ratio >= 0.95) if op == "product_upgrade_eligibility" else "info"))
rows.append(("1. share of calls answered 429 in the window (all three endpoints)",
             f"{100*q['share429']:.2f} % ({sum(q['per'][o][1] for o in EPS)} of {sum(q['per'][o][2] for o in EPS)})",
             "≤ 1 %", verdict(q["share429"] <= 0.01)))
if "h1" in quota:
    h = quota["h1"]
    for op in EPS:
        ok, t429, n = h["per"][op]
        rows.append((f"1b. quota use, {SHORT[op]}, headroom 1.0", f"{ok / h['secs'] / rate:.3f}", "info", "info"))
    rows.append(("1b. 429 share, headroom 1.0", f"{100*h['share429']:.2f} %", "≤ 1 %", verdict(h["share429"] <= 0.01)))

# ---- phase 2
st = js("e2e-stats.json")
truth = {}
for line in rd("e2e-truth.txt").splitlines():
    cid, el, dur = line.split()
    truth[cid] = (el == "true", float(dur))
N = len(truth)
E = sum(1 for el, _ in truth.values() if el)
secs = float(rd("e2e-secs.txt"))
last = rd("e2e-last.txt").lower()
d_last = truth[last][1]
d_max = max(d for el, d in truth.values() if el)
busy_min = N  # eligibility: one call per customer, the busiest endpoint
beyond = max(0, busy_min - R) / rate
tmin = beyond + d_last
busy_secs = float(rd("e2e-busy.txt"))
tail_secs = float(rd("e2e-tail.txt"))
ladder = ", ".join(f"{float(x):.2f}" for x in rd("e2e-ladder.txt").strip("{}").split(",")) + " s at the end"
# clairvoyant schedule: eligible customers checked first, longest lifecycle first
durs = sorted((d for el, d in truth.values() if el), reverse=True)
slot = lambda k: max(0, k - R) / rate  # k-th call (1-based) of a bucket full at the start
clair = max([slot(N)] + [slot(k + 1) + d for k, d in enumerate(durs)])
rows.append((f"2. end-to-end time, {N} customers, {$SERVES} serves ÷ minimum",
             f"{secs / tmin:.2f} ({secs:.1f} s ÷ {tmin:.1f} s)", "≤ 1.10", verdict(secs / tmin <= 1.10)))
calls = {op: sum(st["calls"].get(op, {}).values()) for op in EPS}
c429 = {op: st["calls"].get(op, {}).get("429", 0) for op in EPS}
need = {"product_upgrade_eligibility": N, "product_upgrade_create": E, "product_upgrade_status": E}
for op in EPS:
    rows.append((f"3. calls per customer, {SHORT[op]} ÷ minimum", f"{calls[op] / need[op]:.3f} ({calls[op]} ÷ {need[op]}; {c429[op]} were 429)", "info", "info"))
tot = sum(calls.values()) / sum(need.values())
st429 = sum(c429.values())
rows.append(("3. calls per customer, all endpoints ÷ minimum", f"{tot:.3f} ({sum(calls.values())} ÷ {sum(need.values())})", "≤ 1.34", verdict(tot <= 1.34)))

# ---- phase 3
ov_secs = float(rd("ov-secs.txt"))
jobs = {}
for line in rd("ov-jobs.txt").splitlines():
    k, n = line.split("|"); jobs[k] = int(n)
njobs = sum(jobs.values())
noop = js("noop.json")
items_s = $OVERHEAD_ITEMS / ov_secs
jobs_s = njobs / ov_secs
rows.append(("4. overhead: items/s of 1 serve ÷ River no-op jobs/s", f"{items_s / noop['jobs_per_sec']:.3f} ({items_s:.0f} ÷ {noop['jobs_per_sec']:.0f})", "info", "info"))
rows.append(("4. overhead: jobs/s of 1 serve ÷ River no-op jobs/s", f"{jobs_s / noop['jobs_per_sec']:.3f} ({jobs_s:.0f} ÷ {noop['jobs_per_sec']:.0f})", "≥ 0.25", verdict(jobs_s / noop['jobs_per_sec'] >= 0.25)))

# ---- phase 4
hwm = 0; samples = 0
for line in rd("rss-samples.txt").splitlines():
    f = line.split()
    if "VmHWM:" in f:
        hwm = max(hwm, int(f[f.index("VmHWM:") + 1])); samples += 1
rows.append((f"5. peak RSS (VmHWM) of 1 serve, {$RSS_ITEMS:,} items, {samples} s", f"{hwm/1024:.1f} MB ({$RSS_SETTLED} items settled meanwhile)", "≤ 150 MB", verdict(hwm / 1024 <= 150)))

# ---- phase 5: subscription upgrades, real limit 40 % of the configured one
ss, sm = js("subs-stats.json"), js("subs-minute.json")
SOPS = ["subscription_upgrades", "subscription_upgrade_create"]
def tot(st, code=None):
    return sum((st["calls"].get(op, {}).get(code, 0) if code else sum(st["calls"].get(op, {}).values())) for op in SOPS)
s_n = $SUBS_ITEMS
s_inel = int(rd("subs-ineligible.txt"))
s_need = s_n + (s_n - s_inel)  # one list per item, one perform per item with a target
s_calls, s_429 = tot(ss), tot(ss, "429")
s_after = tot(ss) - tot(sm)
s_after429 = tot(ss, "429") - tot(sm, "429")
s_rate = $SUBS_REAL / PER
s_min = max(0, s_need - $SUBS_REAL) / s_rate
s_secs = float(rd("subs-secs.txt"))
s_first = float(rd("subs-first.txt"))
learned_series = [l.split() for l in rd("subs-learned.txt").splitlines() if len(l.split()) == 2]
learned_end = float(learned_series[-1][1]) if learned_series else float("nan")
s_status = js("subs-status.json")
s_limits = s_status.get("rate_limits", [])
rows.append((f"6. subscription upgrades, calls ÷ the API's minimum (real limit 40 % of configured)",
             f"{s_calls / s_need:.3f} ({s_calls} ÷ {s_need}; lists {sum(ss['calls'].get('subscription_upgrades', {}).values())}, performs {sum(ss['calls'].get('subscription_upgrade_create', {}).values())})",
             "≤ 1.3", verdict(s_calls / s_need <= 1.3)))
rows.append(("6. subscription upgrades, share of calls answered 429 after the first simulated minute",
             f"{100 * s_after429 / max(1, s_after):.2f} % ({s_after429} of {s_after}; whole run {s_429} of {s_calls})",
             "≤ 3 %", verdict(s_after429 <= 0.03 * s_after)))
rows.append(("6. subscription upgrades, end-to-end time ÷ the minimum the real limit allows",
             f"{s_secs / s_min:.2f} ({s_secs:.1f} s ÷ {s_min:.1f} s)", "≤ 1.25", verdict(s_secs / s_min <= 1.25)))
rows.append(("6. subscription upgrades, learned rate at the end ÷ the real limit",
             f"{learned_end / s_rate:.2f} ({learned_end:.1f}/s ÷ {s_rate:.1f}/s; configured {$SUBS_CONF / PER:.1f}/s)", "info", "info"))

P("## Rate governor: quota use, end-to-end time, calls per customer, overhead, memory, learning a lower limit")
P("")
P(f"Measured by \`scripts/bench-governor.sh\` (\`make bench\`) on $(date -u +%Y-%m-%d), "
  f"$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), "
  f"PostgreSQL $(psql -X -At -d postgres -c 'show server_version' | cut -d' ' -f1) on $PGHOST:$PGPORT; whole script ${T_TOTAL} s. "
  "Every number below comes from this one run; compare ratios, not absolute rates (the machine is shared and noisy).")
P("")
P("**Time is compressed 10×: one simulated minute is 6 real seconds.** The simulator "
  f"(\`orchestrator simulate\`, its own process) limits each product-upgrade endpoint to R = {R} calls per {PER} s "
  f"(= {R} per simulated minute, {rate:.0f}/s real; token buckets full at start), and the service is given the same "
  f"numbers (\`rate_limits.limits.product_upgrade_*: {{calls: {R}, per: {PER}s, scope: partner}}\`). "
  "Everything else in the service's config is the default (headroom 0.98, poll_reserve 0.2, max_workers 20, "
  "queue_depth 1000), except the polling intervals, compressed by the same 10× "
  "(\`polling.initial_interval: 3s\`, \`max_interval: 60s\`). Upgrades run 1–3 s (\`lifecycle: {min: 1s, max: 3s}\`). "
  "Each phase uses a fresh database (created and dropped by the script) and a fresh simulator.")
P("")
P("| metric | measured | target | |")
P("|---|---|---|---|")
for m, v, t, ok in rows:
    P(f"| {m} | {v} | {t} | {ok} |")
P("")
P("### How each number is measured")
P("")
P(f"1. **Quota use** (\`examples/scenarios/bench-governor-quota.yaml\`, no ineligible customers so every check is "
  f"followed by a create and a poll): {$QUOTA_ITEMS:,} customers imported, {$SERVES} \`serve\` processes on one database. "
  f"After a {$WARMUP} s warm-up (the buckets' initial bursts are spent), \`/_sim/stats\` is read at the start and the end "
  f"of a {q['secs']:.1f} s window (10 simulated minutes); answered = every status code but 429. Per endpoint: "
  + ", ".join(f"{SHORT[o]} {q['per'][o][0]} answered / {q['per'][o][1]} × 429" for o in EPS)
  + f"; {q['open']} items were still open at the end (eligibility backlogged throughout). "
  f"Machine CPU busy during the window: {q['cpu']} % of {os.cpu_count()} CPUs (load average mid-window \`{q['load']}\`; "
  f"PostgreSQL and the simulator count too; see the top snapshot below); "
  f"of that, the 3 serves used {q['serve_cpu']:.0f} % of one CPU together and the simulator {q['sim_cpu']:.0f} %. "
  f"429s over the whole run including the warm-up: {q['run429']} of {q['runall']}; Retry-After violations: {q['viol']}.")
P("")
P(f"   Expected ceilings: eligibility at most headroom × R = 0.98 (the governor spends 98 % of the limit by design). "
  f"Creates follow eligibility one for one here, so they can reach the same. Status polls follow the creates: "
  f"each item is polled on the learned ladder (\`polling.learned_quantiles\` 0.5, 0.9, 1 of recent durations); the "
  f"median rung is an early poll that goes only while the status bucket holds a quarter of its burst, so with creates "
  f"arriving at ~0.98 R most items get one poll at the 90th percentile and status use stays near the create rate. "
  f"Measured: status {q['per']['product_upgrade_status'][0] / q['secs'] / rate:.3f}.")
P("")
P(f"2. **End-to-end time** (\`bench-governor-e2e.yaml\`: default shares, 10 % ineligible, 10 % failing): {$SERVES} serves "
  f"started first, then {N} customers imported; time = last item's final status change − the batch's import timestamp "
  f"(both from the database) = {secs:.1f} s. Final statuses: {rd('e2e-statuses.txt')}. "
  f"**Minimum the limits allow** = (calls the busiest endpoint needs − its burst) ÷ its rate + the lifecycle of the last "
  f"upgrade = ({busy_min} eligibility calls − {R}) ÷ {rate:.0f}/s + {d_last:.2f} s = {tmin:.1f} s. The busiest endpoint is "
  f"eligibility (one call per customer; create and status need one per eligible customer, {E}). The last upgrade's "
  f"lifecycle is ground truth: the customer whose upgrade the run created last (from the database), its duration "
  f"computed by \`simulator.Predict\` (\`internal/benchkit/cmd/simtruth\`). With the scenario's max lifecycle instead "
  f"({d_max:.2f} s) the minimum is {beyond + d_max:.1f} s → ratio {secs / (beyond + d_max):.2f}; a clairvoyant schedule "
  f"(eligible customers first, longest lifecycle first, each bucket full at the start) needs {clair:.1f} s → ratio "
  f"{secs / clair:.2f} (there, the ineligible customers' checks come last and hide every lifecycle). "
  f"Where the gap goes: the eligibility checks run at headroom × R (0.98), so the busiest endpoint alone takes "
  f"{busy_secs:.1f} s (from the import to its last call) against {tmin - d_last:.1f} s; after the last create, the "
  f"last item is noticed {tail_secs:.2f} s later against its {d_last:.2f} s lifecycle: the planner cannot know a "
  f"lifecycle in advance, it polls on the ladder learned from earlier items (median, 90th percentile, slowest, "
  f"{ladder}), and each snoozed poll runs within River's fetch poll (100 ms) of its time. The governor sent no call "
  f"that was refused ({st429} × 429). "
  f"Machine CPU busy: {os.environ.get('E2E_CPU', '$E2E_CPU')} %.")
P("")
P(f"3. **Calls per customer**, same run, from \`/_sim/stats\` (every call, 429s and retries included) ÷ the API's minimum "
  f"({N} eligibility, {E} creates, {E} status = {N + 2*E}); token calls ({sum(st['calls'].get('token', {}).values())}) "
  f"are not Partner Center calls and are left out. Duplicates created: {len(st.get('duplicates', {}))}.")
P("")
P(f"4. **Overhead** (\`bench-governor-overhead.yaml\`: no rate limits, no latency, lifecycle 10–50 ms; service limits "
  f"1,000,000 per second, \`polling.initial_interval: 100ms\`, \`max_interval: 1s\`): 1 serve, {$OVERHEAD_ITEMS:,} customers "
  f"settled in {ov_secs:.2f} s ({items_s:.0f} items/s; {rd('ov-statuses.txt')}); River jobs completed meanwhile: "
  + ", ".join(f"{k} {v}" for k, v in jobs.items()) + f" = {njobs} ({jobs_s:.0f} jobs/s). "
  f"Baseline on the same database right after: \`internal/benchkit/cmd/rivernoop\` inserts {noop['jobs']:,} no-op jobs "
  f"(InsertMany) and runs a river.Client with MaxWorkers {noop['workers']} and FetchCooldown 50 ms / FetchPollInterval 100 ms (serve's settings) until all complete: "
  f"{noop['seconds']:.2f} s, {noop['jobs_per_sec']:.0f} jobs/s. A product upgrade is at least 2 jobs (create_upgrade + "
  f"poll_upgrade_status) plus 2–3 Partner Center calls, several ledger writes (item status, events, api_calls, "
  f"line items) and a rate-bucket update per call, so items/s ÷ no-op jobs/s well below 0.5 is expected. "
  f"Machine CPU busy: serve run $OV_CPU %, no-op run $NOOP_CPU %. River's no-op rate is capped by its fetch loop, not "
  f"by CPU: at most MaxWorkers jobs per FetchCooldown, 20 per 50 ms = 400 jobs/s; serve's River client has the same cap, "
  f"and its jobs also wait for PostgreSQL and the simulator's HTTP round trips.")
P("")
P(f"5. **Memory**: {$RSS_ITEMS:,} customers imported, 1 serve with the overhead config, VmHWM read from "
  f"\`/proc/PID/status\` every second for {samples} s; {$RSS_SETTLED} items settled meanwhile. CPU busy: $RSS_CPU %.")
P("")
samples = learned_series[::max(1, len(learned_series) // 12)]
P(f"6. **Subscription upgrades against a limit below the configured one** (\`bench-governor-subs.yaml\`): the simulator "
  f"allows {$SUBS_REAL} calls per {PER} s per partner and customer (one bucket for listing and performing, full at start: "
  f"{s_rate:.1f}/s), the service is configured with {$SUBS_CONF} per {PER} s (\`rate_limits.limits.subscriptions: "
  f"{{calls: {$SUBS_CONF}, per: {PER}s, scope: customer}}\`, the documented 500 a minute compressed like the rest), so "
  f"its configured limit is 2.5 × the real one and it must learn the difference. {$SERVES} serves started first, then "
  f"{s_n:,} subscription upgrades of one customer imported (each subscription has an eligible upgrade path, its target "
  f"offer given in the file, from \`simtruth\`, so each item needs exactly one list and one perform: API minimum "
  f"{s_need} calls). Final statuses: {rd('subs-statuses.txt')}; duplicates created: {len(ss.get('duplicates', {}))}. "
  f"**Minimum the real limit allows** = (calls needed − the real burst) ÷ the real rate = ({s_need} − {$SUBS_REAL}) ÷ "
  f"{s_rate:.1f}/s = {s_min:.1f} s; measured from the import to the last item's final status change: {s_secs:.1f} s "
  f"(the first call went out {s_first:.2f} s after the import). 429s \"after the first minute\": \`/_sim/stats\` read "
  f"{PER} s (one simulated minute) after the import and at the end. The learned rate "
  f"(\`rate_buckets.learned_per_sec\` of \`subscriptions\`, every replica's), sampled every half second, "
  f"seconds after the import → calls/s: " + ", ".join(f"{float(t):.0f} s → {float(v):.1f}" for t, v in samples)
  + f"; lowered {s_limits[0]['lowered'] if s_limits else 0} times in the run. \`orchestrator status --batch subs --json\` "
  f"at the end: \`\"rate_limits\": {json.dumps(s_limits)}\`. Machine CPU busy: $SUBS_CPU %.")
P("")
P("Machine snapshot during the quota window (\`top -b -n1\`):")
P("")
P("\`\`\`")
P(q["top"])
P("\`\`\`")
P("")
P("Commands (what the script runs; \`\$SIM\` is the simulator's address, \`\$DB\` a fresh database):")
P("")
P("\`\`\`sh")
P("make bench        # or: bash scripts/bench-governor.sh   (HEADROOM_ROW=1 adds a quota run at headroom 1.0)")
P("go build -o bin/orchestrator ./cmd/orchestrator")
P("psql -d postgres -c 'create database \$DB'; DATABASE_URL=postgres://postgres@127.0.0.1:5432/\$DB?sslmode=disable bin/orchestrator migrate")
P(f"go run ./internal/importer/cmd/gencsv -rows {$QUOTA_ITEMS} -seed 11 > quota.csv && bin/orchestrator import --batch quota quota.csv")
P("bin/orchestrator simulate --listen 127.0.0.1:PORT --scenario examples/scenarios/bench-governor-quota.yaml &")
P("export PARTNER_CENTER_BASE_URL=\$SIM PARTNER_CENTER_TOKEN_URL=\$SIM/partner-tenant/oauth2/v2.0/token \\\\")
P("  PARTNER_CENTER_TENANT_ID=partner-tenant PARTNER_CENTER_CLIENT_ID=bench-client \\\\")
P("  PARTNER_CENTER_CLIENT_SECRET=bench-client-secret-value PARTNER_CENTER_REFRESH_TOKEN=bench-refresh-token-value")
P("for i in 1 2 3; do bin/orchestrator --config governor.yaml serve --listen 127.0.0.1:0 & done")
P(f"sleep {$WARMUP}; curl -s \$SIM/_sim/stats > s0.json; sleep {$WINDOW}; curl -s \$SIM/_sim/stats > s1.json")
P("go run ./internal/benchkit/cmd/simtruth -scenario examples/scenarios/bench-governor-e2e.yaml -csv e2e.csv")
P(f"go run ./internal/benchkit/cmd/rivernoop -db \$DATABASE_URL -jobs {$NOOP_JOBS} -workers {$MAX_WORKERS}   # FetchCooldown 50ms, FetchPollInterval 100ms as serve")
P("\`\`\`")
P("")
P("\`governor.yaml\` (phases 1 and 2; phases 3 and 5 use calls 1000000, per 1s, initial_interval 100ms, max_interval 1s):")
P("")
P("\`\`\`yaml")
P(rd("governor.yaml"))
P("\`\`\`")
open(out, "w").write("\n".join(lines) + "\n")
PY

DOC=docs/benchmarks.md
[ -f "$DOC" ] || printf '# Benchmarks\n' >"$DOC"
if ! grep -q '^<!-- governor:start -->$' "$DOC"; then
	printf '\n<!-- governor:start -->\n<!-- governor:end -->\n' >>"$DOC"
fi
awk -v body="$SECTION" '
	$0 == "<!-- governor:start -->" { print; while ((getline line < body) > 0) print line; skip = 1; next }
	$0 == "<!-- governor:end -->" { skip = 0 }
	!skip { print }' "$DOC" >"$WORK/doc.md" && cat "$WORK/doc.md" >"$DOC"
cat "$SECTION"
log "done in ${T_TOTAL} s"
