#!/usr/bin/env bash
# Issue #5: time from killing the preferred content server until a client
# in a resolve loop gets the backup (goal <= 1 s), and from its restart
# until the client is back on it (failback on, TTL 5 s; goal <= TTL + one
# probe interval). Everything on 127.0.0.1.
#   bash bench/failover.sh [BUILD_DIR] [--rounds N]
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cmake --build "$build" -j "$(nproc)" --target failover_bench dfsd dfsutil >/dev/null
"$build/bin/failover_bench" --dfsutil "$build/bin/dfsutil" --dfsd "$build/bin/dfsd" "$@"
