#!/usr/bin/env bash
# make demo: seed 003's web farm on loopback (scripts/farm.py): two
# namespace servers for \\contoso\webfarm, two content servers kept in step
# by dfsrd, and a web node serving dfsclient's FUSE mount through nginx.
# Prints the URLs and what to try; Ctrl-C stops everything and unmounts.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
exec python3 "$here/scripts/farm.py" up --build "$build" --dir "$here/demo-farm" \
  --ttl "${DFS_DEMO_TTL:-10}" --probe-ms "${DFS_DEMO_PROBE_MS:-1000}"
