#!/usr/bin/env bash
# Builds Tether: the browser app (web/app.wasm, precompressed to .br and .gz
# for server/webapp, by cmd/tether-build) and the server binary (bin/tether).
# Prints the bundle's sizes.
#
#   ./build.sh          everything
#   ./build.sh wasm     the browser app only
#   ./build.sh server   the server only
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-all}"

build_wasm() {
	# cmd/tether-build compiles any go-app wasm main with the size flags and
	# writes the precompressed copies (.br, .gz) server/webapp serves; it
	# skips the slow brotli pass when web/app.wasm did not change. Its
	# default -gcflags=all=-l (no inlining outside the runtime) makes the
	# bundle about 70 KB (brotli) smaller; the UI is not CPU-bound.
	# WASM_GCFLAGS="" restores the compiler's defaults.
	go build -o bin/tether-build ./cmd/tether-build
	bin/tether-build -gcflags="${WASM_GCFLAGS-all=-l}" -o web/app.wasm ./demo/cmd/tether-web
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
