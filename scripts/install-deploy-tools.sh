#!/usr/bin/env bash
# Installs the tools scripts/check-deploy.sh needs, at pinned versions, into
# .tools/ (gitignored) and deploy/check/node_modules (gitignored).
# Idempotent: a tool already present at the pinned version is not rebuilt, so
# a warm run takes about a second. Works offline against the Go module proxy,
# Debian's package mirror and the npm registry only.
#
#   promtool    Debian package prometheus (extracted, not installed: no daemon)
#   kustomize   go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
#   kube-score  go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0
#   node        deploy/check/package-lock.json (npm ci): @grafana/schema,
#               typescript, kubernetes-models, js-yaml
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

TOOLS=${TOOLS_DIR:-$ROOT/.tools}
BIN=$TOOLS/bin
mkdir -p "$BIN" "$TOOLS/stamps"

KUSTOMIZE_VERSION=v5.8.2
KUBE_SCORE_VERSION=v1.20.0
# Debian 12 (bookworm) version of the prometheus package; promtool 2.42.
PROMETHEUS_DEB_VERSION=2.42.0+ds-5+deb12u1

log() { printf '== %s\n' "$*" >&2; }

# stamp NAME VERSION: true when NAME was installed at VERSION and its binary exists.
have() { [[ -x "$BIN/$1" && "$(cat "$TOOLS/stamps/$1" 2>/dev/null)" == "$2" ]]; }
stamp() { printf '%s\n' "$2" >"$TOOLS/stamps/$1"; }

go_tool() { # go_tool NAME PACKAGE VERSION
	local name=$1 pkg=$2 version=$3
	if have "$name" "$version"; then return; fi
	log "building $name $version (go install $pkg@$version)"
	# Outside the project's module, so its go.mod is never read nor touched.
	(cd "$TOOLS" && GOFLAGS=-mod=mod GOBIN="$BIN" CGO_ENABLED=0 go install "$pkg@$version")
	stamp "$name" "$version"
}

go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go_tool kube-score github.com/zegl/kube-score/cmd/kube-score "$KUBE_SCORE_VERSION"

# promtool: the .deb is downloaded and unpacked under .tools/, so no root and
# no prometheus service are needed; apt-get update only if the lists are stale.
if ! have promtool "$PROMETHEUS_DEB_VERSION"; then
	log "fetching promtool (Debian prometheus $PROMETHEUS_DEB_VERSION)"
	dl=$TOOLS/cache/deb
	rm -rf "$dl" && mkdir -p "$dl"
	if ! (cd "$dl" && apt-get download "prometheus=$PROMETHEUS_DEB_VERSION" >/dev/null 2>&1); then
		if [[ $(id -u) -eq 0 ]]; then
			apt-get update -qq
		fi
		(cd "$dl" && apt-get download "prometheus=$PROMETHEUS_DEB_VERSION")
	fi
	rm -rf "$TOOLS/prometheus" && mkdir -p "$TOOLS/prometheus"
	dpkg-deb -x "$dl"/prometheus_*.deb "$TOOLS/prometheus"
	ln -sf "$TOOLS/prometheus/usr/bin/promtool" "$BIN/promtool"
	"$BIN/promtool" --version >/dev/null
	rm -rf "$dl"
	stamp promtool "$PROMETHEUS_DEB_VERSION"
fi
# The live checks (scripts/check-deploy.sh) run the same package's Prometheus.
if [[ -x $TOOLS/prometheus/usr/bin/prometheus ]]; then
	ln -sf "$TOOLS/prometheus/usr/bin/prometheus" "$BIN/prometheus"
fi

# Node packages from the committed lock file; reinstalled only when it changes.
CHECK=$ROOT/deploy/check
lock_sum=$(sha256sum "$CHECK/package-lock.json" | cut -d' ' -f1)
if [[ ! -d "$CHECK/node_modules" || "$(cat "$CHECK/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]]; then
	log "npm ci in deploy/check"
	(cd "$CHECK" && npm ci --no-audit --no-fund --loglevel=error)
	printf '%s\n' "$lock_sum" >"$CHECK/node_modules/.lock-sha256"
fi

log "deploy tools ready in $BIN: kustomize $KUSTOMIZE_VERSION, kube-score $KUBE_SCORE_VERSION, promtool $PROMETHEUS_DEB_VERSION"
