# Partner Center upgrade orchestrator. `make help` lists the targets.

GO  ?= go
BIN := bin/orchestrator

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z/-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build bin/orchestrator
	$(GO) build -o $(BIN) ./cmd/orchestrator

.PHONY: db
db: ## Make sure PostgreSQL answers on 127.0.0.1:5432 (start or install it)
	bash scripts/ensure-postgres.sh

.PHONY: demo
demo: db build ## Run a 200-customer batch end to end against the built-in simulator
	./$(BIN) demo

.PHONY: test
test: db ## Run every test against real PostgreSQL and the simulator
	$(GO) test -race -count=1 -timeout 20m ./...

FUZZTIME ?= 60s

.PHONY: fuzz
fuzz: ## Run every fuzz target of the Partner Center client for FUZZTIME (default 60s) each
	@for f in $$(grep -ho '^func Fuzz[A-Za-z]*' internal/partnercenter/*_test.go | sed 's/^func //'); do \
		echo "== $$f"; \
		$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./internal/partnercenter/ || exit 1; \
	done

.PHONY: bench
bench: db ## Run the benchmarks (metrics scrape, 1M-row import, governor, token renewals) and update docs/benchmarks.md
	bash scripts/bench.sh
	bash scripts/bench-import.sh
	bash scripts/bench-governor.sh
	bash scripts/bench-tokens.sh
	bash scripts/bench-heartbeat.sh

.PHONY: lint
lint: ## gofmt and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: check-deploy
check-deploy: ## Install the pinned deploy tools (.tools/) and check deploy/: rules, dashboard, manifests
	bash scripts/install-deploy-tools.sh
	bash scripts/check-deploy.sh
