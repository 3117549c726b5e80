#!/usr/bin/env bash
# Issue #4's load benchmark: 50 concurrent connections for 10 s against dfsd
# serving 100,000 folders, all on 127.0.0.1; the same load generator
# against a null responder (the framing's limit); and in the same run
# redis-benchmark -t get -c 50 against a local redis-server as the
# reference for this machine. Goal: at least redis's requests/s, p99 < 1 ms.
#   bash bench/referral_load.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/$build/bin"
for tool in redis-server redis-benchmark; do
  command -v $tool >/dev/null || { echo "needs $tool: apt-get install redis-server redis-tools" >&2; exit 1; }
done
work=$(mktemp -d /tmp/dfs-load-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

bash "$here/bench/make_namespace_xml.sh" 100000 "$work/ns.xml"
"$bin/dfsutil" --store "$work/store" root import set --create "$work/ns.xml" '\\contoso\webfarm' >/dev/null
"$bin/dfsd" --store "$work/store" --listen 127.0.0.1:0 --no-probe > "$work/dfsd.out" 2> "$work/dfsd.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/dfsd.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/dfsd.out")
echo "== dfsd, 100,000 folders, 50 connections, ${seconds} s"
"$bin/referral_load" --server "127.0.0.1:$port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label dfsd || echo "(dfsd: some requests were not served: see above)"

# The same load generator against a null responder: dfsd's framing, a fixed
# reply, no lookup: what the framing and the socket alone allow here.
"$bin/null_responder" --listen 127.0.0.1:0 > "$work/null.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/null.out" 2>/dev/null && break; sleep 0.1; done
null_port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/null.out")
echo "== null responder (the framing's limit), 50 connections, ${seconds} s"
"$bin/referral_load" --server "127.0.0.1:$null_port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label null

redis_port=$((20000 + RANDOM % 20000))
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
  > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "== redis-benchmark -t get -c 50 (reference on this machine)"
timeout 120 redis-benchmark -h 127.0.0.1 -p "$redis_port" -t get -c 50 -n 1000000 --precision 3 2>/dev/null \
  | tr '\r' '\n' | grep -E "requests per second|throughput summary|latency summary|avg|^ +[0-9]" | tail -6
