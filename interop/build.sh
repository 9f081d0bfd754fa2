#!/usr/bin/env bash
# Builds the interop peers into interop/bin/ (gitignored):
#   bin/otelcol-interop  a collector from the published collector modules (go.mod pins one release)
#   bin/opamp-server     an OpAMP server on opamp-go's server package, with a loopback control API
# Needs Go (see go.mod for the version) and the Go module proxy. Test-only; never shipped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v go >/dev/null 2>&1; then
  echo "interop/build.sh: go is not on PATH; install Go to build the interop peers" >&2
  exit 2
fi

export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED="${CGO_ENABLED:-0}"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "interop: $(go version)"
t0=$(now)
go mod download
t1=$(now)
echo "interop: go mod download took $(secs "$t0" "$t1") s"

mkdir -p bin
go build -trimpath -o bin/otelcol-interop ./otelcol
t2=$(now)
echo "interop: built bin/otelcol-interop in $(secs "$t1" "$t2") s ($(bin/otelcol-interop --version))"
go build -trimpath -o bin/opamp-server ./opamp-server
t3=$(now)
echo "interop: built bin/opamp-server in $(secs "$t2" "$t3") s"
echo "interop: total $(secs "$t0" "$t3") s"
