#!/usr/bin/env bash
# Builds the interop peers into interop/bin/ (gitignored):
#   bin/otelcol-interop       a collector from the published collector modules (go.mod pins one release)
#   bin/otelcol-interop-next  the same collector reporting another version ($NEXT_VERSION): the
#                             "new build" the upgrade tests install over the first one
#   bin/opamp-server          an OpAMP server on opamp-go's server package, with a loopback control API
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
# The version the second collector build reports (--version, service.version).
NEXT_VERSION="${NEXT_VERSION:-0.165.1-next}"
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
go build -trimpath -ldflags "-X main.version=${NEXT_VERSION}" -o bin/otelcol-interop-next ./otelcol
t3=$(now)
echo "interop: built bin/otelcol-interop-next in $(secs "$t2" "$t3") s ($(bin/otelcol-interop-next --version))"
go build -trimpath -o bin/opamp-server ./opamp-server
t4=$(now)
echo "interop: built bin/opamp-server in $(secs "$t3" "$t4") s"
echo "interop: total $(secs "$t0" "$t4") s"

# Optional: the side-by-side benchmark's peers (the official Go supervisor and a v0.149.0
# collector with the opamp extension), from their own module. Off unless asked for.
if [ "${INTEROP_GOPEER:-0}" = "1" ]; then
  bash "$here/build-gopeer.sh"
fi
