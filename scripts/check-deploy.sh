#!/usr/bin/env bash
# Offline checks of deploy/ (alert rules, dashboard, Kubernetes manifests) and
# docs/metrics.md. Tools come from scripts/install-deploy-tools.sh (run first
# by `make check-deploy`). Each step prints a line; the first failure stops.
#
# Static checks run always. Live checks (against a running `orchestrator
# serve` and a real Prometheus scraping it) come later, once the metrics of
# docs/metrics.md exist in Go: add them as check_live_* functions below and
# call them from the LIVE section at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${TOOLS_DIR:-$ROOT/.tools}/bin
export PATH="$BIN:$PATH"
CHECK=$ROOT/deploy/check
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

step() { printf '\n== %s\n' "$*"; }

for t in promtool kustomize kube-score; do
	[[ -x "$BIN/$t" ]] || { echo "missing $BIN/$t: run scripts/install-deploy-tools.sh" >&2; exit 1; }
done
[[ -d "$CHECK/node_modules" ]] || { echo "missing deploy/check/node_modules: run scripts/install-deploy-tools.sh" >&2; exit 1; }

step "alert rules: promtool check rules"
promtool check rules deploy/prometheus/orchestrator-rules.yaml

step "alert rules: promtool test rules"
(cd deploy/prometheus && promtool test rules orchestrator-rules.test.yaml)

step "metric names in the dashboard and rules are in docs/metrics.md"
node "$CHECK/metric-names.mjs"

step "dashboard: type-check against @grafana/schema"
node "$CHECK/dashboard-typecheck.mjs" deploy/grafana/orchestrator-dashboard.json

step "config: deploy/base/config.yaml is config.example.yaml"
if ! cmp -s config.example.yaml deploy/base/config.yaml; then
	diff -u config.example.yaml deploy/base/config.yaml || true
	echo "deploy/base/config.yaml differs from config.example.yaml: cp config.example.yaml deploy/base/config.yaml" >&2
	exit 1
fi
echo "in sync"

# Overlay and its replica count.
overlays=(dev:1 prod:3)
built=()
for o in "${overlays[@]}"; do
	name=${o%%:*} replicas=${o##*:}
	step "overlay $name: kustomize build + kubernetes-models validation"
	kustomize build "deploy/overlays/$name" >"$OUT/$name.yaml"
	node "$CHECK/validate-k8s.mjs" "$OUT/$name.yaml" --replicas "$replicas"
	built+=("$OUT/$name.yaml")

	step "overlay $name: kube-score (no CRITICAL, no WARNING)"
	ignore=()
	if [[ $name == dev ]]; then
		# deployment-replicas: dev runs one replica by design (cheap, and
		# several replicas share River's leader election anyway); prod is
		# scored with it and must have several.
		ignore+=(--ignore-test deployment-replicas)
	fi
	# Optional tests enabled: seccomp profile and container ports. Not
	# enabled: the *-requests-equal-limits family (Guaranteed QoS): the
	# workers idle between polls and burst on a batch, so CPU limits above
	# requests are intended. kube-score skips the CRD kinds (ServiceMonitor,
	# PrometheusRule); validate-k8s.mjs checks them.
	if ! kube-score score --exit-one-on-warning -o ci \
		--enable-optional-test container-seccomp-profile \
		--enable-optional-test container-ports-check \
		"${ignore[@]}" "$OUT/$name.yaml" >"$OUT/$name.score"; then
		grep -E '^\[(CRITICAL|WARNING)\]' "$OUT/$name.score" >&2 || cat "$OUT/$name.score" >&2
		exit 1
	fi
	echo "$(grep -c '^\[OK\]' "$OUT/$name.score") checks OK, $(grep -c '^\[SKIPPED\]' "$OUT/$name.score" || true) skipped"
done

step "PrometheusRule holds exactly the rules of orchestrator-rules.yaml"
node "$CHECK/prometheusrule.mjs" "${built[@]}"

# ---------------------------------------------------------------- LIVE
# Run with ORCHESTRATOR_LIVE_CHECKS=1 (needs Go, PostgreSQL on
# 127.0.0.1:5432 as postgres, and the Debian prometheus package). Builds the
# binary, starts the simulator, a fresh database, imports the 200-customer
# example, starts `serve` (short polling), lints a live /metrics scrape with
# promtool, then a real Prometheus scrapes serve every second and every
# dashboard expr and every alert rule expr must return data.
#
# Alert exprs are conditions that are false on a healthy run, so they return
# nothing by design. For each alert, every series selector in its expr (for
# example `orchestrator_items{status=~"completed|failed|ineligible"}`) must
# match series in Prometheus (`count(selector)` returns data), and the whole
# expr must evaluate without error. `promtool test rules` proves when each
# alert fires; this proves the series it reads exist with those labels on a
# real scrape of a running service.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LIVE_PIDS=()
live_cleanup() {
	for p in "${LIVE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[[ -n ${LIVE_DB:-} ]] && psql -h 127.0.0.1 -U postgres -qc "drop database if exists $LIVE_DB with (force)" >/dev/null 2>&1 || true
	rm -rf "$OUT"
}
wait_http() { # URL [TRIES]
	for _ in $(seq "${2:-100}"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
	echo "no answer from $1" >&2; return 1
}
selectors() { # the series selectors of a PromQL expr, one per line
	python3 -c '
import re,sys
e=sys.stdin.read()
seen=[]
for m in re.finditer(r"\b((?:orchestrator_[a-z_]+)|up)\b(\{[^}]*\})?", e):
    sel=m.group(0)
    if sel not in seen: seen.append(sel)
print("\n".join(seen))'
}

check_live() {
	trap live_cleanup EXIT
	local t0=$SECONDS
	step "live: build, simulator, database, import"
	go build -o "$OUT/orchestrator" ./cmd/orchestrator
	local sim_port serve_port prom_port
	sim_port=$(free_port) serve_port=$(free_port) prom_port=$(free_port)
	"$OUT/orchestrator" simulate --listen "127.0.0.1:$sim_port" --min-duration 20s --max-duration 40s >"$OUT/sim.log" 2>&1 &
	LIVE_PIDS+=($!)
	LIVE_DB=orchestrator_live_$$
	psql -h 127.0.0.1 -U postgres -qc "create database $LIVE_DB"
	export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$LIVE_DB?sslmode=disable"
	export PARTNER_CENTER_BASE_URL="http://127.0.0.1:$sim_port"
	export PARTNER_CENTER_TOKEN_URL="http://127.0.0.1:$sim_port/partner-tenant/oauth2/v2.0/token"
	export PARTNER_CENTER_TENANT_ID=partner-tenant PARTNER_CENTER_CLIENT_ID=live-client
	export PARTNER_CENTER_CLIENT_SECRET=live-client-secret-value PARTNER_CENTER_REFRESH_TOKEN=live-refresh-token-value
	export ORCHESTRATOR_API_TOKENS=live-check-api-token-0123456789
	cat >"$OUT/config.yaml" <<YAML
polling:
  initial_interval: 1s
  max_interval: 2s
YAML
	# Upgrades run 20-40s, so the batch is still running (and in every
	# batch-labelled series) when the exprs are evaluated.
	"$OUT/orchestrator" --config "$OUT/config.yaml" migrate
	"$OUT/orchestrator" --config "$OUT/config.yaml" import --batch live-check examples/product-upgrade-200.csv
	"$OUT/orchestrator" --config "$OUT/config.yaml" serve --listen "127.0.0.1:$serve_port" >"$OUT/serve.log" 2>&1 &
	LIVE_PIDS+=($!)
	wait_http "http://127.0.0.1:$serve_port/readyz" || { tail -n 30 "$OUT/serve.log" >&2; return 1; }
	echo "ready after $((SECONDS - t0))s"

	step "live: promtool check metrics on /metrics"
	curl -fsS "http://127.0.0.1:$serve_port/metrics" >"$OUT/metrics.txt"
	promtool check metrics <"$OUT/metrics.txt"
	echo "$(grep -c '^orchestrator_' "$OUT/metrics.txt") orchestrator_* samples, lint clean"

	step "live: Prometheus scraping serve every 1s"
	cat >"$OUT/prom.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: orchestrator
    static_configs: [{targets: ["127.0.0.1:$serve_port"]}]
YAML
	prometheus --config.file="$OUT/prom.yml" --storage.tsdb.path="$OUT/tsdb" \
		--web.listen-address="127.0.0.1:$prom_port" >"$OUT/prom.log" 2>&1 &
	LIVE_PIDS+=($!)
	local prom="http://127.0.0.1:$prom_port"
	# A first start on a busy machine can take a while (the TSDB is created).
	wait_http "$prom/-/ready" 300 || { tail -n 30 "$OUT/prom.log" >&2; return 1; }
	for _ in $(seq 60); do
		curl -fsS "$prom/api/v1/query" --data-urlencode 'query=up{job="orchestrator"} == 1' | grep -q '"value"' && break
		sleep 1
	done
	# Wait until items have completed and failed (rates and increases have
	# data) while others are still in progress.
	for _ in $(seq 90); do
		curl -fsS "$prom/api/v1/query" --data-urlencode 'query=sum(orchestrator_item_transitions_total{status="completed"}) >= 10 and on () sum(increase(orchestrator_items_failed_total[5m])) > 0' | grep -q '"value"' && break
		sleep 1
	done
	sleep 3
	echo "batch progressed after $((SECONDS - t0))s"

	step "live: every dashboard and alert expr returns data"
	node -e '
		const fs = require("fs"); const yaml = require(process.argv[1] + "/node_modules/js-yaml");
		const d = JSON.parse(fs.readFileSync("deploy/grafana/orchestrator-dashboard.json", "utf8"));
		const out = [];
		const walk = (o) => { if (Array.isArray(o)) o.forEach(walk); else if (o && typeof o === "object") {
			if (typeof o.expr === "string" && o.expr) out.push("D\t" + o.expr.replace(/\n/g, " "));
			Object.values(o).forEach(walk); } };
		walk(d.panels);
		for (const g of yaml.load(fs.readFileSync("deploy/prometheus/orchestrator-rules.yaml", "utf8")).groups)
			for (const r of g.rules) if (r.alert) out.push("A\t" + r.expr.replace(/\n/g, "\\n"));
		console.log(out.join("\n"));' "$CHECK" >"$OUT/exprs.tsv"
	local n=0 failed=0 kind expr q sel
	has_data() { curl -fsS "$prom/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["status"]=="success" and r["data"]["result"] else 1)'; }
	evaluates() { curl -fsS "$prom/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["status"]=="success" else 1)'; }
	while IFS=$'\t' read -r kind expr; do
		n=$((n + 1))
		if [[ $kind == D ]]; then
			q=${expr//\$__rate_interval/30s}; q=${q//\$__range/5m}; q=${q//\$batch/live-check}
			has_data "$q" || { echo "NO DATA (dashboard): $q" >&2; failed=$((failed + 1)); }
			continue
		fi
		q=$(printf '%b' "$expr")
		evaluates "$q" || { echo "DOES NOT EVALUATE (alert): $q" >&2; failed=$((failed + 1)); }
		while read -r sel; do
			[[ -z $sel ]] && continue
			has_data "count($sel)" || { echo "NO SERIES (alert selector): $sel" >&2; failed=$((failed + 1)); }
		done < <(printf '%s' "$q" | selectors)
	done <"$OUT/exprs.tsv"
	echo "$n exprs, $failed without data; live checks took $((SECONDS - t0))s"
	[[ $failed == 0 ]]
}

if [[ ${ORCHESTRATOR_LIVE_CHECKS:-0} == 1 ]]; then
	check_live
fi

step "deploy checks passed"
