#!/usr/bin/env bash
# make demo: builds a sample web-farm namespace in ./demo-store (LMDB, made
# anew each run) with dfsutil, the way seed 003 sets one up, prints it, and
# starts dfsd, the namespace server, on 127.0.0.1 (Ctrl-C stops it).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
store="$here/demo-store"
dfsutil() { "$here/$build/bin/dfsutil" --store "$store" "$@" >/dev/null; }

rm -rf "$store"
R='\\contoso\webfarm'
echo "== building the sample namespace $R in $store"
dfsutil root add "$R" --comment "web farm content"
dfsutil target add "$R" '\\ns1\webfarm'          # two namespace servers
dfsutil target add "$R" '\\ns2\webfarm'
dfsutil domain alias add CONTOSO contoso.com     # NetBIOS and FQDN: one domain
dfsutil property failback set "$R" on

# Site1: primary/backup exactly as seed 003 configures it.
dfsutil link add "$R\Site1" '\\web1\content\Site1' --priority first
dfsutil target add "$R\Site1" '\\web2\content\Site1' --priority last
dfsutil property ttl set "$R\Site1" 60
dfsutil property comment set "$R\Site1" "primary web1, backup web2"

# Site2: three equal servers, load balanced, one down for maintenance.
dfsutil link add "$R\Site2" '\\web1\content\Site2'
dfsutil target add "$R\Site2" '\\web2\content\Site2'
dfsutil target add "$R\Site2" '\\web3\content\Site2' --state offline

# A nested folder with targets in two sites.
dfsutil link add "$R\Shops\Europe" '\\ams-web1\content\shop' --site Amsterdam
dfsutil target add "$R\Shops\Europe" '\\dal-web1\content\shop' --site Dallas --priority low
dfsutil property failback set "$R\Shops\Europe" off

echo
"$here/$build/bin/dfsutil" --store "$store" show '\\contoso.com\webfarm'
echo
echo "== change log (what a second namespace server will pull)"
"$here/$build/bin/dfsutil" --store "$store" log
echo
"$here/$build/bin/dfsutil" --store "$store" root export '\\contoso\webfarm' "$store/webfarm.xml"
echo "  (a backup in Windows dfsutil's XML; 'root import compare' checks it against the store)"
echo
port=${DFS_DEMO_PORT:-7445}
metrics=${DFS_DEMO_METRICS_PORT:-9445}
# dfsd's own two ports stand in for web1's and web2's, so the health probes
# have something real on loopback to watch; other servers are not probed.
"$here/$build/bin/dfsd" --store "$store" --listen "127.0.0.1:$port" --metrics "127.0.0.1:$metrics" \
  --probe "web1=127.0.0.1:$port" --probe "web2=127.0.0.1:$metrics" --probe-interval-ms 1000 \
  > "$store/dfsd.out" 2> "$store/dfsd.log" &
dfsd=$!
trap 'kill $dfsd 2>/dev/null; wait $dfsd 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do grep -q listening "$store/dfsd.out" 2>/dev/null && break; sleep 0.1; done
cat "$store/dfsd.out"
echo "== asking dfsd over TCP where \\contoso\webfarm\Site1\index.html lives"
"$here/$build/bin/dfsutil" diag referral --server "127.0.0.1:$port" '\contoso\webfarm\Site1\index.html'
echo
echo "== a web node: dfsclient resolves through its referral cache"
# web1's and web2's shares are two local folders here; their probes are
# dfsd's two ports, as above.
for s in web1 web2; do
  mkdir -p "$store/content/$s/Site1"
  echo "<h1>Site1 served by $s</h1>" > "$store/content/$s/Site1/index.html"
done
cat > "$store/client.json" <<JSON
{
  "namespace_servers": ["127.0.0.1:$port"],
  "mounts": {"//web1/content": "$store/content/web1", "//web2/content": "$store/content/web2"},
  "probes": {"web1": "127.0.0.1:$port", "web2": "127.0.0.1:$metrics",
             "web3": "none", "ns1": "none", "ns2": "none", "ams-web1": "none", "dal-web1": "none"}
}
JSON
dfsclient() { "$here/$build/bin/dfsclient" --config "$store/client.json" --cache "$store/pkt.json" "$@"; }
echo "\$ dfsclient resolve '\\\\contoso\webfarm\Site1\index.html'"
dfsclient resolve '\\contoso\webfarm\Site1\index.html'
echo "\$ dfsclient pktinfo"
dfsclient pktinfo
mounted=""
if [ -w /dev/fuse ] && command -v fusermount3 >/dev/null; then
  mkdir -p "$store/mnt"
  "$here/$build/bin/dfsclient" --config "$store/client.json" --cache "$store/pkt.json" \
    mount "$store/mnt" --domain contoso --root webfarm --metrics 127.0.0.1:0 \
    > "$store/mount.out" 2> "$store/mount.log" &
  mount_pid=$!
  trap 'kill $mount_pid 2>/dev/null; wait $mount_pid 2>/dev/null; kill $dfsd 2>/dev/null; wait $dfsd 2>/dev/null' EXIT INT TERM
  for _ in $(seq 50); do grep -q mounted "$store/mount.out" 2>/dev/null && break; sleep 0.1; done
  if grep -q mounted "$store/mount.out"; then
    mounted=yes
    echo "\$ cat demo-store/mnt/webfarm/Site1/index.html   (FUSE mount of \\\\contoso)"
    cat "$store/mnt/webfarm/Site1/index.html"
    echo "\$ dfsclient pktinfo   (now answered by the running mount, over its control socket)"
    dfsclient pktinfo
    mount_metrics=$(grep -o 'http://[0-9.:]*/metrics' "$store/mount.log" | head -1 || true)
  fi
fi
echo
echo "== replication's delta engine: web1's access log grew and one page changed; what crosses to web2"
rep="$store/replication"
mkdir -p "$rep/web1" "$rep/web2"
seq 1 400000 | sed 's|^|GET /site1/page|; s|$| HTTP/1.1 200|' > "$rep/web2/access.log"
{ sed 's|page200000 |page200000-edited |' "$rep/web2/access.log"; seq 400001 420000 | sed 's|^|GET /site1/page|'; } \
  > "$rep/web1/access.log"
echo "\$ dfsdelta --stats sync web2/access.log web1/access.log web2/access.log   (receiver web2, sender web1, over loopback TCP)"
"$here/$build/bin/dfsdelta" --stats sync "$rep/web2/access.log" "$rep/web1/access.log" "$rep/web2/access.log" | sed 's/^/  /'
cmp -s "$rep/web1/access.log" "$rep/web2/access.log" && echo "  web2's copy is now byte for byte web1's"
echo
echo "dfsd is running (log: demo-store/dfsd.log, metrics: http://127.0.0.1:$metrics/metrics)."
echo "Try, in another shell:"
echo "  $build/bin/dfsutil --store demo-store link add '\\\\contoso\webfarm\Site3' '\\\\web3\content\Site3'"
echo "  $build/bin/dfsutil diag referral --server 127.0.0.1:$port '\contoso\webfarm\Site3'"
echo "  $build/bin/dfsclient --config demo-store/client.json --cache demo-store/pkt.json --json resolve '\\\\contoso\webfarm\Site1\index.html'"
if [ -n "$mounted" ]; then
  echo "  cat demo-store/mnt/webfarm/Site1/index.html; mv demo-store/content/web1/Site1 demo-store/content/web1/x"
  echo "  cat demo-store/mnt/webfarm/Site1/index.html     # now from web2"
  echo "  $build/bin/dfsclient --config demo-store/client.json --cache demo-store/pkt.json pktflush   # flushes the mount"
  echo "  tail demo-store/mount.log          # DFSC2001 failover, DFSC2002 failback, ..."
  [ -n "${mount_metrics:-}" ] && echo "  curl -s $mount_metrics | grep dfs_client_active_target"
fi
echo "Ctrl-C stops it."
wait $dfsd
