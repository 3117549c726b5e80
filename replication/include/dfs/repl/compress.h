// zstd for dfsrd's messages and small files: whole buffers, optionally
// against a prefix both sides hold (zstd's "patch-from": the old version
// of a file, so a changed banner costs tens of bytes, not the chunk it
// sits in). Every decompression is bounded by the size the caller
// declares it may hold.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs::repl {

// `data` compressed at `level`, against `prefix` when not empty.
std::string Compress(std::string_view data, int level,
                     std::string_view prefix = {});
// Exactly `size` bytes out of one frame, against the same prefix it was
// made with. Errors: kCorrupt (not a frame, or another size), kLimitExceeded
// (`size` over `max_size`).
Result<std::string> Decompress(std::string_view frame, size_t size,
                               size_t max_size, std::string_view prefix = {});

}  // namespace dfs::repl
