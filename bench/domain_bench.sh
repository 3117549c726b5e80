#!/usr/bin/env bash
# Issue #16's figures: a domain namespace of 100,000 folders in a 3-member
# etcd cluster on 127.0.0.1, three dfsd in domain mode.
#  1. change -> visible: 200 changes through the admin path (as dfsutil
#     --etcd), each timed from etcd's acknowledgement until all three dfsd
#     answer it (p50/p99);
#  2. referral throughput of a domain-mode dfsd against a local-mode dfsd
#     serving the same namespace from a store, with the same load
#     generator (50 connections), generator on CPU 0 and server on the
#     others as in bench/referral_load.sh. Both answer from memory: no
#     difference is expected.
#   bash bench/domain_bench.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/$build/bin"
command -v etcd >/dev/null || { echo "needs etcd: apt-get install etcd-server" >&2; exit 1; }
cores=$(nproc)
gen=() srv=()
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
  gen=(taskset -c 0) srv=(taskset -c "1-$((cores - 1))")
fi
work=$(mktemp -d /tmp/dfs-domain-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

base=$((20000 + RANDOM % 20000))
cluster="" urls=""
for i in 1 2 3; do
  cluster+="${cluster:+,}e$i=http://127.0.0.1:$((base + 10 + i))"
  urls+="${urls:+,}http://127.0.0.1:$((base + i))"
done
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:$((base + i))" --advertise-client-urls "http://127.0.0.1:$((base + i))" \
    --listen-peer-urls "http://127.0.0.1:$((base + 10 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((base + 10 + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new --logger zap --log-level error \
    --quota-backend-bytes 4294967296 > "$work/etcd$i.log" 2>&1 &
  pids+=($!)
done

bash "$here/bench/make_namespace_xml.sh" 100000 "$work/ns.xml"
"$bin/dfsutil" --store "$work/local" root import set --create "$work/ns.xml" '\\contoso\webfarm' >/dev/null
for _ in $(seq 100); do
  "$bin/domain_bench" --etcd "$urls" --seed-from "$work/local" --batch 100 > "$work/seed.out" 2>&1 && break
  sleep 0.2
done
echo "== etcd: $(cat "$work/seed.out")"

start_dfsd() {  # name, then extra words; sets $port
  local name=$1; shift
  "${srv[@]}" "$bin/dfsd" --store "$work/$name" --listen 127.0.0.1:0 --no-probe "$@" > "$work/$name.out" 2> "$work/$name.log" &
  pids+=($!)
  last_pid=$!
  for _ in $(seq 200); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  port=$(sed -E 's/.*127\.0\.0\.1:([0-9]+).*/\1/' "$work/$name.out")
}
servers=()
for i in 1 2 3; do
  start_dfsd "domain$i" --etcd "$urls"
  servers+=(--dfsd "127.0.0.1:$port")
  eval "domain${i}_port=$port domain${i}_pid=$last_pid"
done
# Each has read the whole namespace once it answers a folder of it.
for p in "$domain1_port" "$domain2_port" "$domain3_port"; do
  for _ in $(seq 600); do
    "$bin/dfsutil" diag referral '\\contoso\webfarm\Site1' --server "127.0.0.1:$p" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
echo "== change -> visible on all three dfsd (100,000 folders in etcd)"
"$bin/domain_bench" --etcd "$urls" "${servers[@]}" --changes 200

kill "$domain2_pid" "$domain3_pid"
echo "== referral throughput, domain mode (dfsd --etcd), 50 connections, ${seconds} s"
"${gen[@]}" "$bin/referral_load" --server "127.0.0.1:$domain1_port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label dfsd-domain
kill "$domain1_pid"
start_dfsd local
echo "== referral throughput, local mode (dfsd --store), 50 connections, ${seconds} s"
"${gen[@]}" "$bin/referral_load" --server "127.0.0.1:$port" --connections 50 --seconds "$seconds" \
  --folders 100000 --label dfsd-local
