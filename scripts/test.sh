#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it too).
# It provisions what the tests need, then checks formatting, vets, and runs
# every test with the race detector against private redis-server processes
# that the tests start on free loopback ports (see internal/redistest).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "test.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }

# install PACKAGE COMMAND: installs Debian's PACKAGE when COMMAND is missing.
updated=""
install() {
	command -v "$2" >/dev/null && return
	echo "test.sh: $2 not found; installing Debian's $1 package"
	if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
	[ -n "$updated" ] || { $sudo apt-get update -qq; updated=1; }
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
	command -v "$2" >/dev/null || { echo "test.sh: could not install $1; install it and run again" >&2; exit 1; }
}
install redis-server redis-server
install chromium chromium # the demo's status page is tested in headless Chromium
install bsdutils script   # cachectl's progress bar is tested on a pseudo-terminal
echo "test.sh: $(go version); $(redis-server --version | cut -d' ' -f1-3); $(chromium --version 2>/dev/null | head -1)"

# Each module is checked and tested on its own go.mod, as its users build
# it; the workspace (go.work) is for running across modules from the root.
export GOWORK=off

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change these files:" >&2
	echo "$unformatted" >&2
	exit 1
fi
# The library, the examples, the comparison benchmarks and the metrics
# adapters are separate modules, so that the library requires only what it
# imports.
modules=(. examples benchmarks cacheprom cacheotel cmd)
for m in "${modules[@]}"; do
	if ! (cd "$m" && go mod tidy -diff >/dev/null); then
		echo "test.sh: go.mod or go.sum of module $m is not tidy; run: (cd $m && go mod tidy)" >&2
		exit 1
	fi
	(cd "$m" && go vet ./...)
done
# Tests of pure logic need no Redis: run them with no redis-server on the
# PATH (the integration tests start servers on first use only).
nopath=$(mktemp -d)
ln -s "$(command -v go)" "$nopath/go"
PATH="$nopath" CGO_ENABLED=0 go test -count=1 ./cache/internal/...
PATH="$nopath" CGO_ENABLED=0 go test -count=1 ./cache -run '^(TestGenerateKey|TestEscapePattern|TestInvalidConfig|TestConfigFromEnv|TestClientOptionConflicts|FuzzGenerateKey|ExampleGenerateKey|ExampleEscapePattern|ExampleKindStats_HitRate|ExampleClass|TestKeyChangedWakesLeaseWaiters|TestErrorNotWrappedInItself|TestNearGraceBounded|TestStartsDegradedWhileLoading|TestProtocol)'
rm -rf "$nopath"
go test -race -count=1 "$@" ./...
(cd examples && go test -race -count=1 ./...)
(cd cacheprom && go test -race -count=1 ./...)
(cd cacheotel && go test -race -count=1 ./...)
(cd cmd && go test -race -count=1 ./...)
# The README's "go run ./cmd/discovery-demo", from the root, in the workspace.
GOWORK= go build -o /dev/null ./cmd/discovery-demo ./cmd/cachectl
# The side-by-side command runs end to end, briefly (its figures are
# produced by hand: see docs/benchmarks.md).
(cd benchmarks && go test -count=1 ./...)
