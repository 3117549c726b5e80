#!/usr/bin/env bash
# Issue #5: time from killing the preferred content server until a client
# in a resolve loop gets the backup (goal <= 1 s), and from its restart
# until the client is back on it (failback on, TTL 5 s; goal <= TTL + one
# probe interval). Issue 11, the hang cases: a content server frozen with
# SIGSTOP under reads through `dfsclient mount`, and the preferred namespace
# server frozen under resolves; time until reads (resolves) succeed again
# (goal <= deadline + 0.5 s) and failed or wrong reads (goal 0).
# Everything on 127.0.0.1.
#   bash bench/failover.sh [BUILD_DIR] [--rounds N]
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cmake --build "$build" -j "$(nproc)" --target failover_bench dfsd dfsutil dfsclient >/dev/null
"$build/bin/failover_bench" --dfsutil "$build/bin/dfsutil" --dfsd "$build/bin/dfsd" \
  --dfsclient "$build/bin/dfsclient" "$@"
