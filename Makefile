# Tidemark: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
STACK := stack/stack
BIN := bin/tidemark
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
UNIT_PKGS = $$($(GO) list ./... | grep -v /integration)

.PHONY: all build test unit java integration soak demo bench bench-go stack-up stack-down stack-status fmt vet

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
# 20) while two shards stream transactions, then every committed row must be
# in Kafka exactly once; and the two-daemons fencing test. make test runs 5.
soak: stack-up
	eval "$$($(STACK) env)" && TIDEMARK_REQUIRE_STACK=1 TIDEMARK_EO_KILLS=$(or $(KILLS),20) \
		$(GO) test -count=1 -timeout 30m -v -run 'TestExactlyOnce' ./integration/ 2>&1 \
		| grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go:' ; exit $${PIPESTATUS[0]}

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

stack-up:
	$(STACK) up

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

fmt:
	gofmt -w $$(git ls-files '*.go')
