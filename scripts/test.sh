#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it too).
# It provisions what the tests need, then checks formatting, vets, and runs
# every test with the race detector against private redis-server processes
# that the tests start on free loopback ports (see internal/redistest).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "test.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }

if ! command -v redis-server >/dev/null; then
	echo "test.sh: redis-server not found; installing Debian's redis-server package"
	if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
	command -v redis-server >/dev/null || { echo "test.sh: could not install redis-server; install it and run again" >&2; exit 1; }
fi
echo "test.sh: $(go version); $(redis-server --version | cut -d' ' -f1-3)"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change these files:" >&2
	echo "$unformatted" >&2
	exit 1
fi
# The library, the examples, the comparison benchmarks and the metrics
# adapters are separate modules, so that the library requires only what it
# imports.
modules=(. examples benchmarks cacheprom cmd)
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
PATH="$nopath" CGO_ENABLED=0 go test -count=1 ./cache -run '^(TestGenerateKey|TestEscapePattern|TestInvalidConfig|TestConfigFromEnv|TestClientOptionConflicts|FuzzGenerateKey|ExampleGenerateKey|ExampleEscapePattern|ExampleKindStats_HitRate|ExampleClass)'
rm -rf "$nopath"
go test -race -count=1 "$@" ./...
(cd examples && go test -race -count=1 ./...)
(cd cacheprom && go test -race -count=1 ./...)
(cd cmd && go test -race -count=1 ./...)
# The side-by-side command runs end to end, briefly (its figures are
# produced by hand: see docs/benchmarks.md).
(cd benchmarks && go test -count=1 ./...)
