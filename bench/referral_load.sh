#!/usr/bin/env bash
# Issue #4's and #15's load benchmark: 50 concurrent connections for 10 s
# against dfsd serving 100,000 folders, all on 127.0.0.1; the same load
# generator against a null responder (the framing's limit); and in the same
# run redis-benchmark -t get -c 50 against a local redis-server as the
# reference for this machine. Goal: at least redis's requests/s, p99 < 1 ms.
#
# Fair on one machine: every load generator runs on CPU 0 and every server
# on the other CPUs (taskset), so no server competes with its generator for
# a core; dfsd and the null responder answer on every core they are given
# (one thread per CPU of their affinity). A last run shows dfsd unpinned on
# every core of the machine, sharing them with its generator.
#   bash bench/referral_load.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/$build/bin"
for tool in redis-server redis-benchmark; do
  command -v $tool >/dev/null || { echo "needs $tool: apt-get install redis-server redis-tools" >&2; exit 1; }
done
cores=$(nproc)
gen=() srv=()
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
  gen=(taskset -c 0) srv=(taskset -c "1-$((cores - 1))")
  echo "load generators on CPU 0; servers on CPUs 1-$((cores - 1)) ($((cores - 1)) of $cores)"
else
  echo "one CPU (or no taskset): servers and generators share it"
fi
work=$(mktemp -d /tmp/dfs-load-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

bash "$here/bench/make_namespace_xml.sh" 100000 "$work/ns.xml"
"$bin/dfsutil" --store "$work/store" root import set --create "$work/ns.xml" '\\contoso\webfarm' >/dev/null
# Starts dfsd (with the given launcher words first) and sets $port.
start_dfsd() {
  "$@" "$bin/dfsd" --store "$work/store" --listen 127.0.0.1:0 --no-probe > "$work/dfsd.out" 2> "$work/dfsd.log" &
  dfsd_pid=$!
  pids+=($dfsd_pid)
  for _ in $(seq 100); do grep -q listening "$work/dfsd.out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/dfsd.out")
  threads=$(grep -oE 'with [0-9]+ referral threads' "$work/dfsd.log" | grep -oE '[0-9]+')
}
start_dfsd "${srv[@]}"
echo "== dfsd ($threads referral threads), 100,000 folders, 50 connections, ${seconds} s"
"${gen[@]}" "$bin/referral_load" --server "127.0.0.1:$port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label dfsd || echo "(dfsd: some requests were not served: see above)"
kill "$dfsd_pid"; wait "$dfsd_pid" 2>/dev/null || true

# The same load generator against a null responder: dfsd's framing, a fixed
# reply, no lookup: what the framing and the socket alone allow here.
"${srv[@]}" "$bin/null_responder" --listen 127.0.0.1:0 > "$work/null.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/null.out" 2>/dev/null && break; sleep 0.1; done
null_port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/null.out")
echo "== null responder (the framing's limit), 50 connections, ${seconds} s"
"${gen[@]}" "$bin/referral_load" --server "127.0.0.1:$null_port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label null

redis_port=$((20000 + RANDOM % 20000))
"${srv[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize no \
  > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "== redis-benchmark -t get -c 50 (reference on this machine)"
timeout 120 "${gen[@]}" redis-benchmark -h 127.0.0.1 -p "$redis_port" -t get -c 50 -n 1000000 --precision 3 2>/dev/null \
  | tr '\r' '\n' | grep -E "requests per second|throughput summary|latency summary|avg|^ +[0-9]" | tail -6

if [ ${#srv[@]} -gt 0 ]; then
  start_dfsd
  echo "== dfsd unpinned ($threads referral threads, one per core), sharing the cores with its generator"
  "$bin/referral_load" --server "127.0.0.1:$port" --connections 50 --seconds "$seconds" \
    --folders 100000 --label dfsd-unpinned || echo "(dfsd: some requests were not served: see above)"
fi
