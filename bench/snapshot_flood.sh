#!/usr/bin/env bash
# Issue 12: does a snapshot flood move referral latency? dfsd serves 100,000
# folders; bench/referral_load (50 connections) measures p99 alone, then
# during a flood of 300 unauthenticated connections asking for snapshots
# and never reading, then during 12 authenticated replica sessions that each
# ask for a snapshot and never read it. Goal: p99 <= 5 ms in every phase.
# Also prints dfsd's peak memory. Everything on 127.0.0.1.
#   bash bench/snapshot_flood.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/$build/bin"
cmake --build "$here/$build" -j "$(nproc)" --target dfsd dfsutil referral_load snapshot_flood >/dev/null
work=$(mktemp -d /tmp/dfs-flood-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

bash "$here/bench/make_namespace_xml.sh" 100000 "$work/ns.xml"
"$bin/dfsutil" --store "$work/store" root import set --create "$work/ns.xml" '\\contoso\webfarm' >/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/replica.key"
chmod 600 "$work/replica.key"
"$bin/dfsd" --store "$work/store" --listen 127.0.0.1:0 --no-probe \
  --replica-key "$work/replica.key" > "$work/dfsd.out" 2> "$work/dfsd.log" &
dfsd=$!
pids+=($dfsd)
for _ in $(seq 100); do grep -q listening "$work/dfsd.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/dfsd.out")

load() {
  "$bin/referral_load" --server "127.0.0.1:$port" --connections 50 --seconds "$seconds" \
    --folders 100000 | sed -E 's/^/  /'
}
echo "== referrals alone"
load
echo "== during 300 unauthenticated connections asking for snapshots"
"$bin/snapshot_flood" --port "$port" --mode unauth --connections 300 \
  --seconds "$((seconds + 2))" > "$work/flood1.out" &
pids+=($!)
sleep 1
load
wait "${pids[-1]}" || true
sed -E 's/^/  /' "$work/flood1.out"
echo "== during 12 authenticated sessions that ask for a snapshot and never read"
"$bin/snapshot_flood" --port "$port" --mode auth --key "$work/replica.key" \
  --connections 12 --seconds "$((seconds + 2))" > "$work/flood2.out" &
pids+=($!)
sleep 1
load
wait "${pids[-1]}" || true
sed -E 's/^/  /' "$work/flood2.out"
echo "dfsd peak memory: $(grep VmHWM /proc/$dfsd/status | awk '{print $2/1024 " MiB"}')"
echo "goal: p99 <= 5 ms (5000 us) in every phase"
