#!/usr/bin/env bash
# Issue #3's benchmark: dfsutil export and import of a namespace of 100,000
# folders with 2-3 targets each, through the real binary and a real store.
# Goal: each under 3 s on this machine; peak memory printed.
#   bash bench/xml_bench.sh [BUILD_DIR] [FOLDERS]
set -euo pipefail
build=${1:-build}
folders=${2:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
dfsutil="$here/$build/bin/dfsutil"
[ -x "$dfsutil" ] || { echo "build first: make -C $here build" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
work=$(mktemp -d /tmp/dfs-xml-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

# A 2008-dialect export made with a fixed seed: folders Site<i>, every
# tenth nested (Shops\Shop<i>), 2-3 targets, some priorities and sites.
awk -v n="$folders" 'BEGIN {
  srand(42)
  print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
  print "<Root Name=\"\\\\contoso\\webfarm\" State=\"ONLINE\" Timeout=\"300\" Attributes=\"192\">"
  print "    <Target State=\"ONLINE\">\\\\ns1\\webfarm</Target>"
  for (i = 0; i < n; i++) {
    name = (i % 10 == 0) ? "Shops\\Shop" i : "Site" i
    printf "    <Link Name=\"%s\" State=\"ONLINE\" Timeout=\"%d\">\n", name, (i % 3 == 0) ? 60 : 1800
    t = 2 + int(rand() * 2)
    for (j = 1; j <= t; j++) {
      cls = (j == 1) ? "globalHigh" : (j == t ? "globalLow" : "siteCostNormal")
      printf "        <Target State=\"ONLINE\" PriorityClass=\"%s\" PriorityRank=\"%d\" dfs:Site=\"site%d\">\\\\web%d\\content\\%s</Target>\n", cls, int(rand() * 4), j, j, "s" i
    }
    print "    </Link>"
  }
  print "</Root>"
}' > "$work/in.xml"
echo "input: $folders folders, $(( $(stat -c %s "$work/in.xml") / 1000000 )) MB of XML"

run() {  # label, then the dfsutil arguments
  local label=$1; shift
  local rc=0
  /usr/bin/time -f "%e %M" -o "$work/time" "$dfsutil" --store "$work/store" "$@" \
    > "$work/out" 2> "$work/err" || rc=$?
  # compare exits 1 when it finds differences; anything else is a failure.
  if [ $rc -ne 0 ] && ! { [ $rc -eq 1 ] && [ "${label#compare}" != "$label" ]; }; then
    cat "$work/err"; exit 1
  fi
  read -r secs kb < <(tail -n 1 "$work/time")
  printf "%-28s %6.2f s   peak RSS %5d MB   %s\n" "$label" "$secs" $((kb / 1024)) \
    "$(awk -v s="$secs" 'BEGIN { print (s < 3.0) ? "(goal < 3 s: met)" : "(goal < 3 s: MISSED)" }')"
}

run "import set (empty store)" root import set --create "$work/in.xml" '\\contoso\webfarm'
run "export (2008 dialect)" root export '\\contoso\webfarm' "$work/out.xml"
run "export (downlevel)" root export '\\contoso\webfarm' "$work/down.xml" --downlevel
run "import compare (equal)" root import compare "$work/out.xml" '\\contoso\webfarm'
run "import set (no change)" root import set "$work/out.xml" '\\contoso\webfarm'
sed -i '0,/Timeout="1800"/s//Timeout="1799"/' "$work/out.xml"
run "compare (1 change)" root import compare "$work/out.xml" '\\contoso\webfarm'
run "import set (1 change)" root import set --no-backup "$work/out.xml" '\\contoso\webfarm'
run "import merge (downlevel)" root import merge "$work/down.xml" '\\contoso\webfarm'
"$dfsutil" --store "$work/store" store info | grep -E 'folders|fileBytes'
