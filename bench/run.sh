#!/usr/bin/env bash
# Runs every benchmark and prints the figures the issues ask for.
#   bash bench/run.sh [BUILD_DIR]     (or: make bench)
set -euo pipefail
build=${1:-build}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
[ -x "$build/bin/ns_lookup_bench" ] || cmake --build "$build" -j "$(nproc)" --target ns_lookup_bench
echo "== namespace lookup (issue #2: well under 1 us at 1,000,000 folders) =="
"$build/bin/ns_lookup_bench" --benchmark_counters_tabular=true "$@" 2>&1 | grep -v '^\*\*\*'
echo
echo "== dfsutil XML export/import, 100,000 folders (issue #3: each under 3 s) =="
bash "$here/bench/xml_bench.sh" "$build"
echo
echo "== dfsd's status page: one refresh at 1k and 100k folders (a page of 500 vs the whole namespace) =="
cmake --build "$build" -j "$(nproc)" --target status_page_bench >/dev/null
"$build/bin/status_page_bench" --benchmark_counters_tabular=true 2>&1 | grep -v '^\*\*\*'
echo
echo "== dfsd under load (issue #4: at least redis's requests/s, p99 < 1 ms) =="
bash "$here/bench/referral_load.sh" "$build"
echo
echo "== snapshot floods against dfsd (issue #12: referral p99 <= 5 ms during each) =="
bash "$here/bench/snapshot_flood.sh" "$build"
echo
echo "== client failover/failback (issue #5: failover <= 1 s, failback <= TTL + probe interval) =="
bash "$here/bench/failover.sh" "$build"
echo
echo "== delta engine per-byte costs (issue #6: chunking >= 1.1 GB/s per core) =="
cmake --build "$build" -j "$(nproc)" --target repl_bench >/dev/null
"$build/bin/repl_bench" 2>&1 | grep -v '^\*\*\*'
echo
echo "== dfsdelta sync vs rsync and rdiff (issue #6: <= 1.2x minimum on (a), fewer bytes than rsync, no slower) =="
bash "$here/bench/delta_bench.sh" "$build"
