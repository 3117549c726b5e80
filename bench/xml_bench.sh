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

bash "$here/bench/make_namespace_xml.sh" "$folders" "$work/in.xml"
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
