#!/usr/bin/env bash
# Issue #6: bytes on the wire and wall time of `dfsdelta sync` against
# rsync (--no-whole-file --stats) and rdiff on four workloads made here
# from fixed seeds:
#   (a) 200 MB random data, 50 scattered 41 KB rewrites, one 4 KB insert
#       in the middle
#   (b) a source-tree tarball (~40 MB) with ten 4 KB inserts and a 64 KB
#       range deleted
#   (c) a 1 GB access log that grew by 10 MB
#   (d) a 200 MB file renamed (the receiver has it under the old name)
# Prints each tool's bytes and bytes / minimum (the bytes the edits put
# in; for (d) the file size, as nothing changed). Goals: <= 1.2x on (a),
# fewer bytes than rsync everywhere, wall time no worse than rsync's.
#   bash bench/delta_bench.sh [BUILD_DIR]      (DFS_BENCH_DIR: where the data goes)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cmake --build "$build" -j "$(nproc)" --target dfsdelta make_delta_data >/dev/null
bin="$here/$build/bin"
work=${DFS_BENCH_DIR:-/tmp/dfs-delta-bench}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
gen="$bin/make_delta_data"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
runs=${DFS_BENCH_RUNS:-6}
# The median of the times given.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "making the data in $work (fixed seeds)..."
mkdir -p "$work/a" "$work/b" "$work/c" "$work/d"
"$gen" random $((200 * 1024 * 1024)) 1 "$work/a/old"
min_a=$("$gen" edit "$work/a/old" "$work/a/new" 2 --rewrites 50 --rewrite-len 41984 \
        --inserts 1 --insert-len 4096 --insert-at-middle)
"$gen" source $((40 * 1024 * 1024)) 3 "$work/b/tree"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/b" -cf "$work/b/old" tree
rm -rf "$work/b/tree"
min_b=$("$gen" edit "$work/b/old" "$work/b/new" 4 --inserts 10 --insert-len 4096 --text \
        --delete-len 65536)
"$gen" log $((1024 * 1024 * 1024 + 10 * 1024 * 1024)) 5 "$work/c/new"
head -c $((1024 * 1024 * 1024)) "$work/c/new" > "$work/c/old"
min_c=$((10 * 1024 * 1024))
"$gen" random $((200 * 1024 * 1024)) 6 "$work/d/old"
ln "$work/d/old" "$work/d/new"   # the same bytes under another name
min_d=$(stat -c %s "$work/d/new")

printf '\n%-4s %12s | %12s %7s %7s | %12s %7s %7s | %12s %7s %7s\n' \
  "" "minimum" "dfsdelta" "x min" "s" "rsync" "x min" "s" "rdiff" "x min" "s"
# Memory the guest freed is handed back to the host here (free page
# reporting) and costs ~2 s a GB to touch again: whichever tool runs when
# little freed memory is still at hand pays that for its output file, the
# others not. So each timed run starts with freshly freed memory (a scratch
# file of twice the new file, written and deleted) and the tools take turns
# going first.
warm_memory() {  # $1 = workload dir
  local mb=$(( $(stat -c %s "$1/new") * 2 / 1048576 + 64 ))
  dd if=/dev/zero of="$work/scratch" bs=1M count="$mb" status=none
  rm -f "$work/scratch"
}
run_ours() {  # $1 = workload dir, $2 = workload
  # As rsync does below: the receiver's copy of the old file is replaced
  # by the new one (for d: the new name is created beside the old one).
  rm -rf "$1/mine"; mkdir -p "$1/mine"
  cp "$1/old" "$1/mine/f"
  sync
  warm_memory "$1"
  local t; t=$(now)
  if [ "$2" = d ]; then
    ours_out=$("$bin/dfsdelta" --stats sync - "$1/new" "$1/mine/g" --reuse "$1/mine/f")
    out="$1/mine/g"
  else
    ours_out=$("$bin/dfsdelta" --stats sync "$1/mine/f" "$1/new" "$1/mine/f")
    out="$1/mine/f"
  fi
  ours_times+=("$(elapsed "$t")")
  cmp -s "$1/new" "$out" || { echo "dfsdelta output differs on ($2)"; exit 1; }
  rm -rf "$1/mine"
}
run_rsync() {  # the destination holds the old file (for d: under its old name)
  rm -rf "$1/src" "$1/dst"; mkdir -p "$1/src" "$1/dst"
  if [ "$2" = d ]; then
    cp "$1/old" "$1/dst/old-name"; ln "$1/new" "$1/src/new-name"; target=new-name
  else
    cp "$1/old" "$1/dst/f"; ln "$1/new" "$1/src/f"; target=f
  fi
  sync
  warm_memory "$1"
  local t; t=$(now)
  rsync_out=$(rsync --no-whole-file --stats -I "$1/src/$target" "$1/dst/$target")
  rsync_times+=("$(elapsed "$t")")
  cmp -s "$1/new" "$1/dst/$target" || { echo "rsync output differs on ($2)"; exit 1; }
  rm -rf "$1/src" "$1/dst"
}
run_rsync_best() {  # rsync at its best settings for the workload: -z, and
  # for the renamed file --fuzzy (it finds the old name in the same folder)
  rm -rf "$1/src" "$1/dst"; mkdir -p "$1/src" "$1/dst"
  local opts=(--no-whole-file --stats -I -z)
  if [ "$2" = d ]; then
    cp "$1/old" "$1/dst/old-name"; ln "$1/new" "$1/src/new-name"; target=new-name
    opts+=(--fuzzy -r)
    # --fuzzy looks for a basis only when it copies a folder's content
    src="$1/src/"; dst="$1/dst/"
  else
    cp "$1/old" "$1/dst/f"; ln "$1/new" "$1/src/f"; target=f
    src="$1/src/f"; dst="$1/dst/f"
  fi
  sync
  warm_memory "$1"
  local t; t=$(now)
  best_out=$(rsync "${opts[@]}" "$src" "$dst")
  best_time=$(elapsed "$t")
  best_opts="${opts[*]:3}"
  cmp -s "$1/new" "$1/dst/$target" || { echo "rsync $best_opts output differs on ($2)"; exit 1; }
  rm -rf "$1/src" "$1/dst"
}
run_rdiff() {  # signature of the old file, delta, patch; bytes = sig + delta
  rm -f "$1/sig.rdiff" "$1/delta.rdiff" "$1/out.rdiff"; sync
  warm_memory "$1"
  local t; t=$(now)
  rdiff signature "$1/old" "$1/sig.rdiff"
  rdiff delta "$1/sig.rdiff" "$1/new" "$1/delta.rdiff"
  rdiff patch "$1/old" "$1/delta.rdiff" "$1/out.rdiff"
  rdiff_times+=("$(elapsed "$t")")
  cmp -s "$1/new" "$1/out.rdiff" || { echo "rdiff output differs on ($2)"; exit 1; }
  rdiff_b=$(( $(stat -c %s "$1/sig.rdiff") + $(stat -c %s "$1/delta.rdiff") ))
  rm -f "$1/sig.rdiff" "$1/delta.rdiff" "$1/out.rdiff"
}

sync
for w in a b c d; do
  d="$work/$w"
  min_var="min_$w"; min=${!min_var}
  # $runs rounds, each starting with the next tool; every run after a
  # `sync` (one run's dirty pages do not slow the next) and warm_memory;
  # the median time is shown.
  ours_times=(); rsync_times=(); rdiff_times=()
  for round in $(seq "$runs"); do
    case $((round % 3)) in
      1) run_ours "$d" "$w"; run_rsync "$d" "$w"; run_rdiff "$d" "$w" ;;
      2) run_rsync "$d" "$w"; run_rdiff "$d" "$w"; run_ours "$d" "$w" ;;
      0) run_rdiff "$d" "$w"; run_ours "$d" "$w"; run_rsync "$d" "$w" ;;
    esac
  done
  ours=$(echo "$ours_out" | awk '/wire bytes:/ {print $3}')
  sent=$(echo "$rsync_out" | awk -F': ' '/Total bytes sent/ {gsub(",","",$2); print $2}')
  recv=$(echo "$rsync_out" | awk -F': ' '/Total bytes received/ {gsub(",","",$2); print $2}')
  rsync_b=$((sent + recv))
  ratio() { echo "$1 / $min" | bc -l | xargs printf '%.3f'; }
  printf '(%s) %12d | %12d %7s %7s | %12d %7s %7s | %12d %7s %7s\n' "$w" "$min" \
    "$ours" "$(ratio "$ours")" "$(median "${ours_times[@]}")" \
    "$rsync_b" "$(ratio "$rsync_b")" "$(median "${rsync_times[@]}")" \
    "$rdiff_b" "$(ratio "$rdiff_b")" "$(median "${rdiff_times[@]}")"
  echo "      times: dfsdelta ${ours_times[*]}; rsync ${rsync_times[*]}; rdiff ${rdiff_times[*]}"
  run_rsync_best "$d" "$w"
  sent=$(echo "$best_out" | awk -F': ' '/Total bytes sent/ {gsub(",","",$2); print $2}')
  recv=$(echo "$best_out" | awk -F': ' '/Total bytes received/ {gsub(",","",$2); print $2}')
  echo "      rsync at its best ($best_opts): $((sent + recv)) bytes ($(ratio $((sent + recv))) x min), $best_time s (one run)"
  echo "$ours_out" | sed 's/^/      /' | grep -E "receiver ->|sender ->"
done
echo
echo "bytes: both directions; for (d) 'x min' is x the file size (nothing changed)."
echo "seconds: median of $runs rounds (DFS_BENCH_RUNS), each begun by the next tool; every run after a sync"
echo "and with freshly freed memory at hand (warm_memory);"
echo "rdiff's is signature + delta + patch."
echo "rsync and rdiff run on the same files in the same run."
