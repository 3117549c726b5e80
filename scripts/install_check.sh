#!/usr/bin/env bash
# ctest: `cmake --install` into a scratch root puts the binaries, the
# systemd units and the example configs in their places, and systemd
# accepts the units (systemd-analyze verify, where systemd is installed).
set -euo pipefail
build=$1
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR="$dest" cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root="$dest$prefix"
for f in bin/dfsd bin/dfsrd bin/dfsutil bin/dfsclient bin/dfsdelta; do
  [ -x "$root/$f" ] || { echo "missing $root/$f"; exit 1; }
done
for u in dfsd.service dfsrd@.service dfsclient-mount.service; do
  [ -f "$root/lib/systemd/system/$u" ] || { echo "missing unit $u"; exit 1; }
  grep -q "ExecStart=$prefix/bin/" "$root/lib/systemd/system/$u" ||
    { echo "$u does not start $prefix/bin/..."; exit 1; }
done
for f in dfsd.env site1.json client.json dfsclient.env; do
  [ -f "$root/share/doc/dfs/examples/$f" ] || { echo "missing example $f"; exit 1; }
done
"$root/bin/dfsrd" status --config "$root/share/doc/dfs/examples/site1.json" 2>&1 |
  grep -q "state" || true  # parses (no state yet): the example is valid JSON config
if command -v systemd-analyze >/dev/null; then
  # Verified as installed, the binaries found where the units say.
  units=$(mktemp -d)
  for u in dfsd.service dfsrd@.service dfsclient-mount.service; do
    sed "s|$prefix/bin/|$root/bin/|g" "$root/lib/systemd/system/$u" > "$units/$u"
  done
  cp "$units/dfsrd@.service" "$units/dfsrd@site1.service"
  out=$(cd "$units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
        ./dfsd.service ./dfsrd@site1.service ./dfsclient-mount.service 2>&1 || true)
  rm -rf "$units"
  if echo "$out" | grep -v -e "Failed to connect" -e "System has not been booted" \
       -e "^$" | grep -q .; then
    echo "systemd-analyze verify:"; echo "$out"; exit 1
  fi
fi
echo "installed and verified under $root"
