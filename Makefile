# Tether. `make` builds everything; `make test` is what CI runs.

GO ?= go

.PHONY: all build wasm run test lint e2e bench bench-peers bench-idle size clean vet-wasm cluster chromium

# STATICCHECK is the staticcheck release `make lint` runs (through the Go
# module proxy); v0.8.2 (2026.1.2) supports Go 1.26.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

all: build

## build: the wasm bundle (precompressed) and bin/tether
build:
	./build.sh

## wasm: the browser bundle only
wasm:
	./build.sh wasm

## run: build, then serve the app on the server's default address
run: build
	./bin/tether -web-dir web

## cluster: NATS (JetStream) and three nodes on 127.0.0.1:8081-8083, Ctrl-C
## stops them (docs/cluster.md)
cluster: build
	./.ci/cluster

## test: lint, then every test with the race detector; the wasm bundle is
## built first because the browser tests load it, and Chromium must be there
test: lint chromium wasm
	$(GO) test -race -timeout 30m ./...

## chromium: the browser tests drive /usr/bin/chromium (or $$TETHER_CHROMIUM).
## When it is missing, root on Debian installs it as .ci/run does; anyone
## else gets the one command to run
chromium:
	@if [ -n "$$TETHER_CHROMIUM" ] || [ -x /usr/bin/chromium ]; then \
		exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "» installing chromium for the browser tests (as .ci/run does)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	else \
		echo "make test needs Chromium for the browser tests. Install it with:"; \
		echo "    sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium"; \
		echo "(or set TETHER_CHROMIUM=/path/to/chromium)"; \
		exit 1; \
	fi

## lint: fails on unformatted code, an untidy go.mod, go vet (native and
## wasm) and staticcheck findings
lint: vet-wasm
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

vet-wasm:
	GOOS=js GOARCH=wasm $(GO) vet ./shared/... ./client/... ./demo/... ./examples/poll/msg/... ./examples/poll/ui/... ./examples/poll/cmd/poll-web/...

## e2e: the browser end-to-end tests only (needs chromium)
E2E_PKG ?= ./demo/ui/e2e/...
e2e: chromium wasm
	$(GO) test -race -run E2E $(E2E_PKG)

## bench: the Go micro-benchmarks (the writer's: ns/delivery, frames/write,
## allocs; the metrics'), with allocation counts
BENCH ?= .
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

## bench-peers: Tether beside gorilla, melody and centrifuge on the same
## fan-out workload (../shared/peerbench, not part of this repository; the
## target skips with a message when it is absent). CONNS, RATE, DUR, SIZE
## are passed through.
PEERBENCH ?= $(firstword $(wildcard ../shared/peerbench ../../shared/peerbench))
bench-peers:
	@if [ -z "$(PEERBENCH)" ] || [ ! -x "$(PEERBENCH)/run.sh" ]; then \
		echo "bench-peers: ../shared/peerbench not found (set PEERBENCH=dir): skipped"; \
	else \
		"$(PEERBENCH)/run.sh" .; \
	fi

## bench-idle: memory per idle connection (.ci/bench-idle): CLIENTS (15000)
## idle connections over ROOMS (150), held IDLE (60s); RSS, goroutines, heap
## and stacks per connection, and beside centrifuge when ../shared/peerbench
## is present
bench-idle:
	.ci/bench-idle

## size: the bundle's sizes, raw, gzip and brotli, and its code by package
## group against each group's budget (fails when one is over)
size: wasm
	$(GO) test -count=1 -run TestBundleBudget -v ./demo/cmd/tether-web/

## clean: remove build outputs
clean:
	rm -rf bin web/app.wasm web/app.wasm.br web/app.wasm.gz test-artifacts
