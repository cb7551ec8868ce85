#!/usr/bin/env bash
# Builds Tether: the browser app (web/app.wasm, precompressed to .br and .gz
# for server/webapp) and the server binary (bin/tether). Prints the bundle's
# sizes.
#
#   ./build.sh          everything
#   ./build.sh wasm     the browser app only
#   ./build.sh server   the server only
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-all}"

build_wasm() {
	echo "» web/app.wasm (GOOS=js GOARCH=wasm)"
	# No inlining outside the runtime: inlined copies of small functions make
	# the bundle bigger and compress worse (about -70 KB brotli); the UI is
	# not CPU-bound. WASM_GCFLAGS="" restores the compiler's defaults.
	# go-app without its server half (net/http, crypto/tls): a -modfile that
	# replaces go-app v10.1.11 by a patched copy for this build only
	# (internal/goappwasm); empty, with the reason on stderr, if not.
	local modfile
	modfile=$(go run ./internal/goappwasm/modfile)
	GOOS=js GOARCH=wasm go build ${modfile:+-modfile="$modfile"} -trimpath -gcflags="${WASM_GCFLAGS-all=-l}" -gcflags=runtime= \
		-ldflags="-s -w" -o web/app.wasm ./demo/cmd/tether-web
	go build -o bin/compress ./cmd/compress
	# compress skips the slow brotli pass when web/app.wasm did not change.
	bin/compress web/app.wasm >/dev/null
	print_sizes
}

build_server() {
	echo "» bin/tether"
	go build -trimpath -o bin/tether ./cmd/tether
}

print_sizes() {
	local raw gz br
	raw=$(wc -c <web/app.wasm)
	gz=$(wc -c <web/app.wasm.gz)
	br=$(wc -c <web/app.wasm.br)
	awk -v raw="$raw" -v gz="$gz" -v br="$br" 'BEGIN {
		printf "bundle web/app.wasm: raw %.2f MB (%d B), gzip %.2f MB (%d B), brotli %.2f MB (%d B)\n",
			raw/1e6, raw, gz/1e6, gz, br/1e6, br
	}'
}

case "$what" in
all)
	build_wasm
	build_server
	;;
wasm) build_wasm ;;
server) build_server ;;
sizes) print_sizes ;;
*)
	echo "usage: $0 [all|wasm|server|sizes]" >&2
	exit 2
	;;
esac
