# concord: build, test, run and lint. `make help` lists the targets.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
# The one test command: the README and .ci/run use exactly this.
TEST_FLAGS  ?= -race -timeout 20m
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help build test test-e2e dev lint staticcheck fmt clean bench bench-sql

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the static binary bin/concord (CGO off)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/concord ./cmd/concord

test: ## run every test with the race detector (needs a C compiler for -race)
	$(GO) test $(TEST_FLAGS) ./...

test-e2e: ## run only the black-box tests against the real binary
	$(GO) test $(TEST_FLAGS) ./test/...

# Reliability suite (docs/reliability.md): failed histories, their HTML
# visualizations and the summary lines go to ARTIFACTS.
ARTIFACTS   ?= $(CURDIR)/artifacts
.PHONY: torture image

torture: ## long reliability run: more seeds, longer scenarios, all levels (containers where docker is reachable)
	@mkdir -p $(ARTIFACTS); rm -f $(ARTIFACTS)/reliability-summary.txt
	CONCORD_TORTURE=1 CONCORD_ARTIFACTS=$(ARTIFACTS) $(GO) test -count=1 -timeout 4h ./test/linearizability/ ./test/docker/; \
		status=$$?; cat $(ARTIFACTS)/reliability-summary.txt; exit $$status

image: build ## the FROM scratch image concord:dev from bin/concord (deploy/Dockerfile)
	docker build -f deploy/Dockerfile -t concord:dev bin

dev: ## run a single-node dev agent, data in ./concord-data
	$(GO) run ./cmd/concord agent --dev

lint: ## gofmt check, go vet, staticcheck (pinned)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(MAKE) staticcheck

staticcheck: ## staticcheck at the pinned version (fetched through the module proxy)
	$(GO) run $(STATICCHECK) ./...

fmt: ## gofmt every file
	gofmt -w .

bench: ## concord vs etcd side by side (bench/compare.sh; QUICK=1: ~3 min instead of ~15; BENCH_FLAGS for more)
	bench/compare.sh $(if $(QUICK),--quick) $(BENCH_FLAGS)

bench-sql: ## concord SQL vs its KV puts and dqlite (bench/sql-compare.sh; installs go-dqlite; BENCH_FLAGS for more)
	bench/sql-compare.sh $(BENCH_FLAGS)

clean: ## remove build output
	rm -rf bin
