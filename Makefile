# Tether. `make` builds everything; `make test` is what CI runs.

GO ?= go

.PHONY: all build wasm run test e2e bench size clean vet-wasm cluster

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

## test: vet (native and wasm) and every test with the race detector; the
## wasm bundle is built first because the browser tests load it
test: wasm vet-wasm
	$(GO) vet ./...
	$(GO) test -race ./...

vet-wasm:
	GOOS=js GOARCH=wasm $(GO) vet ./shared/... ./client/... ./cmd/tether-web/...

## e2e: the browser end-to-end tests only (needs chromium)
E2E_PKG ?= ./client/ui/e2e/...
e2e: wasm
	$(GO) test -race -run E2E $(E2E_PKG)

## bench: the Go benchmarks (more, and a load run, come with the bench issue;
## meanwhile `go run ./cmd/tether-load -h` drives a running server)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## size: the bundle's sizes, raw, gzip and brotli
size: wasm

## clean: remove build outputs
clean:
	rm -rf bin web/app.wasm web/app.wasm.br web/app.wasm.gz test-artifacts
