#!/usr/bin/env bash
# Issue 13: dfsrd's figures against rsync and zstd in one run (three members
# on 127.0.0.1): site deploy bytes, change latency, many small files, and
# memory and restart at scale. Prints each figure with its goal.
#   bash bench/mesh_bench.sh [BUILD_DIR] [SCALE_FILES] [MANY_FILES]
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
cmake --build "$here/$build" -j "$(nproc)" --target dfsrd >/dev/null
exec python3 "$here/bench/mesh_bench.py" "$here/$build/bin" "${2:-100000}" "${3:-20000}"
