# Shared by the benchmark scripts (source it after setting PREFIX, the
# prefix of the databases a script creates): PostgreSQL settings, a work
# directory and the processes and databases cleaned up on exit, the built
# binary, and helpers for fresh databases and simulator processes.
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), psql, curl,
# python3 and Go.

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
export PGOPTIONS='-c client_min_messages=warning'
WORK=$(mktemp -d)
PIDS=()
DBS=()
T_START=$(date +%s)

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	local db
	for db in "${DBS[@]}"; do psql -q -X -d postgres -c "drop database if exists $db with (force)" >/dev/null 2>&1 || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

# build [PROGRAM...]: bin/orchestrator and the named internal/... programs
# (built into $WORK under their base name).
build() {
	log build
	go build -o bin/orchestrator ./cmd/orchestrator
	local p
	for p in "$@"; do go build -o "$WORK/$(basename "$p")" "./$p"; done
	BIN=$PWD/bin/orchestrator
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# fresh_db NAME: drop and create the database PREFIX_NAME and migrate it;
# sets DATABASE_URL and CUR_DB.
fresh_db() {
	local db=${PREFIX}_$1
	psql -q -X -d postgres -v ON_ERROR_STOP=1 -c "drop database if exists $db with (force)" -c "create database $db"
	DBS+=("$db")
	export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db?sslmode=disable"
	"$BIN" migrate >/dev/null
	CUR_DB=$db
}
q() { psql -X -At -d "$CUR_DB" -v ON_ERROR_STOP=1 -c "$1"; }

# start_sim FLAG...: an `orchestrator simulate` process with these flags;
# sets SIM_URL and SIM_PID once it answers.
start_sim() {
	local port
	port=$(free_port)
	"$BIN" simulate --listen "127.0.0.1:$port" "$@" >"$WORK/sim-$port.log" 2>&1 &
	SIM_PID=$!
	PIDS+=("$SIM_PID")
	SIM_URL=http://127.0.0.1:$port
	for _ in $(seq 100); do curl -sf "$SIM_URL/_sim/stats" >/dev/null && return 0; sleep 0.1; done
	echo "simulator did not start" >&2
	cat "$WORK/sim-$port.log" >&2
	return 1
}
stats() { curl -sf "$SIM_URL/_sim/stats" >"$1"; }

# Credentials the simulator accepts.
export PARTNER_CENTER_TENANT_ID=partner-tenant PARTNER_CENTER_CLIENT_ID=bench-client \
	PARTNER_CENTER_CLIENT_SECRET=bench-client-secret-value PARTNER_CENTER_REFRESH_TOKEN=bench-refresh-token-value
