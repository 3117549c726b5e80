#!/usr/bin/env bash
# Fails when a pure module includes Boost.Asio or a public header includes
# a third-party C header that STYLE.md keeps behind pimpl.
set -u
top=${1:-.}
status=0
for module in common namespace referral replication client domain; do
  [ -d "$top/$module" ] || continue
  # The Asio shells live in <module>/net/ (targets dfs::<module>_net);
  # common/.../asio.h is the one sanctioned way to include Asio, and
  # common/.../coroutines.h (the shells' shared coroutine names) uses it.
  hits=$(grep -rln 'boost/asio\|dfs/common/asio.h' "$top/$module" --include='*.h' --include='*.cc' 2>/dev/null \
         | grep -v "^$top/$module/net/" | grep -v 'include/dfs/common/\(asio\|coroutines\)\.h$' || true)
  if [ -n "$hits" ]; then echo "pure module $module includes Asio: $hits"; status=1; fi
done
hits=$(grep -rln '#include <\(lmdb\|zstd\|xxhash\)\.h>' "$top"/*/include "$top"/*/*/include 2>/dev/null || true)
if [ -n "$hits" ]; then echo "public header includes a C library header: $hits"; status=1; fi
[ $status -eq 0 ] && echo "layering ok"
exit $status
