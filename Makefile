# Tidemark: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
STACK := stack/stack
BIN := bin/tidemark
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
UNIT_PKGS = $$($(GO) list ./... | grep -v /integration)

.PHONY: all build test unit java integration soak demo bench bench-go fuzz stack-up stack-down stack-status fmt vet

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/tidemark

vet:
	$(GO) vet ./...

# Everything: unit tests, then the integration tests against the real stack
# (brought up if it is not running). Under TIDEMARK_REQUIRE_STACK=1 a missing
# part of the stack fails the run instead of skipping.
test: vet unit java integration

unit:
	$(GO) test -count=1 $(UNIT_PKGS)

# The Java claim-check deserializer (java/): built and unit-tested with the
# stack's Maven and local repository (~/.cache/tidemark/m2; offline once
# fetched). TestJavaClaimCheckDeserializer runs its jar against the stack.
java:
	java/build

integration: stack-up
	eval "$$($(STACK) env)" && TIDEMARK_REQUIRE_STACK=1 $(GO) test -count=1 -timeout 20m -v ./integration/... 2>&1 \
		| tee /tmp/tidemark-integration.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' ; \
		exit $${PIPESTATUS[0]}

# The fault tests' long version: SIGKILL of the daemon KILLS times (default
# 20) per scenario (while two shards stream transactions, during a snapshot,
# around schema changes, while large records are offloaded), then every
# committed row must be in Kafka exactly once; the two-daemons tests
# (fencing, one server_id); and the service and network faults (broker
# killed, registry down, shard restarted, GCS down, toxiproxy) ROUNDS times
# each (default 3). make test runs 5 kills of the streaming scenario, 3 of
# each other and one round of faults (TIDEMARK_EO_KILLS, TIDEMARK_KILLS,
# TIDEMARK_FAULT_ROUNDS).
soak: stack-up
	eval "$$($(STACK) env)" && TIDEMARK_REQUIRE_STACK=1 TIDEMARK_EO_KILLS=$(or $(KILLS),20) TIDEMARK_KILLS=$(or $(KILLS),20) \
		TIDEMARK_FAULT_ROUNDS=$(or $(ROUNDS),3) \
		$(GO) test -count=1 -timeout 90m -v -run 'TestExactlyOnce|TestKill|TestFault' ./integration/ 2>&1 \
		| tee /tmp/tidemark-soak.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' ; exit $${PIPESTATUS[0]}

# Brings the stack up, writes a sample workload to two shards and shows the
# change events arriving.
demo: build stack-up
	eval "$$($(STACK) env)" && ./scripts/demo

# Tidemark against Debezium on the local stack (issue 4): ~11-15 min, plus ~4-5 for
# Tidemark's claim-check with rows of up to 40 MiB (issue 10; -only large); rewrites
# docs/benchmarks.md; QUICK=1 for the ~2-minute run (+1 for large). Output in bench/out/.
bench:
	bench/run $(if $(QUICK),-quick)

# Go micro-benchmarks of the hot paths (rows-event decode, Avro encode,
# partitioning, framing, queue), with allocations.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(UNIT_PKGS)

# Native fuzzing (issue 11): every fuzz target of the repository, found by
# grepping for "func Fuzz" (a new one is picked up), runs for FUZZTIME
# (default 1m) one after another; the first failure stops the run, its
# input saved under the package's testdata/fuzz/FuzzX/ (commit it with the
# fix). FUZZ=regexp picks targets, FUZZFLAGS adds go test flags
# (-parallel 1 on a busy machine). The committed corpora run in make unit.
FUZZTIME ?= 1m
FUZZ ?= .
fuzz:
	@set -e; n=0; for f in $$(grep -rl --include='*_test.go' --exclude-dir=.stack --exclude-dir=testdata --exclude-dir=.git '^func Fuzz' . | sort); do \
		pkg=./$$(dirname $${f#./}); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f | grep -E -- '$(FUZZ)'); do \
			echo "=== fuzz $$pkg $$t for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg || { echo "FAIL: $$pkg $$t"; exit 1; }; \
			n=$$((n+1)); \
		done; \
	done; echo "fuzz: $$n targets passed, $(FUZZTIME) each"

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

fmt:
	gofmt -w $$(git ls-files '*.go')
