#!/usr/bin/env bash
# Builds the peers of the side-by-side benchmark (npm run bench -- side-by-side) into
# interop/bin/ (gitignored), from the gopeer module (interop/gopeer/go.mod), which pins one
# release of the collector and contrib modules, v0.149.0 (core v1.55.0): the only release the
# module proxy serves the official supervisor and the opamp extension at.
#   bin/opampsupervisor-go  the official OpAMP supervisor, built unchanged from its published
#                           module path (cmd/opampsupervisor v0.149.0)
#   bin/otelcol-gopeer      a collector from that release with the OTLP receiver, batch, debug
#                           exporter, health_check (probed by our supervisor) and opamp (what the
#                           Go supervisor talks to) extensions; our own main.go on otelcol.NewCommand
# Test-only; never shipped. Separate from interop/go.mod (v0.165) so the releases never mix.
# The compile is niced: a cold collector build takes about 70 s of both cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/gopeer"

if ! command -v go >/dev/null 2>&1; then
  echo "interop/build-gopeer.sh: go is not on PATH; install Go to build the side-by-side peers" >&2
  exit 2
fi

export GOFLAGS="${GOFLAGS:-} -mod=readonly"
export CGO_ENABLED="${CGO_ENABLED:-0}"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "gopeer: $(go version)"
t0=$(now)
go mod download
t1=$(now)
echo "gopeer: go mod download took $(secs "$t0" "$t1") s"

mkdir -p ../bin
nice -n 10 go build -trimpath -o ../bin/opampsupervisor-go github.com/open-telemetry/opentelemetry-collector-contrib/cmd/opampsupervisor
t2=$(now)
echo "gopeer: built bin/opampsupervisor-go in $(secs "$t1" "$t2") s"
nice -n 10 go build -trimpath -o ../bin/otelcol-gopeer ./otelcol
t3=$(now)
echo "gopeer: built bin/otelcol-gopeer in $(secs "$t2" "$t3") s ($(../bin/otelcol-gopeer --version))"
echo "gopeer: total $(secs "$t0" "$t3") s"
