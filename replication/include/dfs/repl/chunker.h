// Content-defined chunking: cut points chosen by the bytes themselves, so
// an insertion or deletion moves only the chunk boundaries next to it and
// everything after re-synchronises (a 1-byte insert changes O(1) chunks).
//
// The cut rule is a Gear rolling hash as in FastCDC (Xia et al., USENIX ATC
// 2016): `h = (h << 1) + gear[byte]` (a 64-byte window, one shift and one
// add per byte), a cut where the hash's log2(avg) mask bits are zero, none
// before `min` (those bytes are skipped, which is much of the speed) and a
// forced one at `max`. Measured choices (replication/README.md): FastCDC's
// "normalised chunking" (a stricter mask before avg, a looser one after)
// narrows the size spread but makes the rule depend on the distance from
// the chunk start, so boundaries re-synchronise later after an edit; on
// bench workload (a) (200 MB, 51 scattered edits, avg 2 KiB) levels 1, 2
// and 3 sent 4%, 7% and 20% more bytes than one mask, so we use one.
// RDC's FilterMax/H3 keeps a window maximum per byte, more work per byte
// than one shift and add, for the same purpose.
// Thread-safety: pure functions of their inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dfs/common/error.h"
#include "dfs/common/result.h"

namespace dfs::repl {

// Defaults measured on bench workload (a) (replication/README.md): a mean
// chunk of ~1.8 KiB (768 skipped + ~1 KiB to a cut) sends the fewest bytes
// at the highest chunking speed of the settings tried.
struct ChunkParams {
  uint32_t min = 768;
  uint32_t avg = 1024;  // a power of two
  uint32_t max = 8192;
  bool operator==(const ChunkParams&) const = default;
};

inline constexpr uint32_t kMinChunkBytes = 64;
inline constexpr uint32_t kMaxChunkBytes = 4u << 20;

// min >= 64, min < avg < max <= 4 MiB, avg a power of two.
Status ValidateParams(const ChunkParams& params);

// The length of the chunk starting at `data` (the whole of `data` when it
// is shorter than `min` or no cut point is found before `max`).
size_t NextCut(const ChunkParams& params, const uint8_t* data, size_t size);

// Calls `fn(offset, length)` for every chunk of `data`, in order.
template <typename Fn>
void ForEachChunk(const ChunkParams& params, std::span<const uint8_t> data,
                  Fn&& fn) {
  size_t at = 0;
  while (at < data.size()) {
    const size_t n = NextCut(params, data.data() + at, data.size() - at);
    fn(at, n);
    at += n;
  }
}

// Every chunk length of `data`, in order (empty for empty data).
std::vector<uint32_t> ChunkLengths(const ChunkParams& params,
                                   std::span<const uint8_t> data);

}  // namespace dfs::repl
