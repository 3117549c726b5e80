#include "dfs/repl/chunker.h"

#include <array>
#include <bit>
#include <cstdlib>

namespace dfs::repl {
namespace {

// 256 pseudo-random 64-bit words (splitmix64 from a fixed seed): part of
// the format, since both sides must cut at the same places.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> t{};
  uint64_t x = 0x6466732d67656172ULL;  // "dfs-gear"
  for (auto& v : t) {
    x += 0x9E3779B97F4A7C15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    v = z ^ (z >> 31);
  }
  return t;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// Masks use the hash's high bits (the low bits of a Gear hash only see
// the last few bytes). `bits` ones spread over the top 48 bits.
uint64_t Mask(int bits) {
  uint64_t m = 0;
  for (int i = 0; i < bits; ++i) m |= uint64_t{1} << (63 - i * 47 / bits);
  return m;
}

}  // namespace

Status ValidateParams(const ChunkParams& p) {
  if (p.min < kMinChunkBytes || p.min >= p.avg || p.avg >= p.max ||
      p.max > kMaxChunkBytes || !std::has_single_bit(p.avg)) {
    return Fail(Errc::kInvalidArgument,
                "chunk sizes must be 64 <= min < avg < max <= 4 MiB with avg a "
                "power of two");
  }
  return Status::Ok();
}

size_t NextCut(const ChunkParams& p, const uint8_t* data, size_t size) {
  if (size <= p.min) return size;
  static thread_local uint32_t cached_avg = 0;
  static thread_local uint64_t mask = 0;
  if (cached_avg != p.avg) {
    mask = Mask(std::countr_zero(p.avg));
    cached_avg = p.avg;
  }
  const size_t end = size < p.max ? size : p.max;
  uint64_t h = 0;
  // Unrolled by two: the loop is the whole cost of chunking.
  size_t i = p.min;
  for (; i + 1 < end; i += 2) {
    h = (h << 1) + kGear[data[i]];
    if ((h & mask) == 0) return i + 1;
    h = (h << 1) + kGear[data[i + 1]];
    if ((h & mask) == 0) return i + 2;
  }
  for (; i < end; ++i) {
    h = (h << 1) + kGear[data[i]];
    if ((h & mask) == 0) return i + 1;
  }
  return end;
}

std::vector<uint32_t> ChunkLengths(const ChunkParams& params,
                                   std::span<const uint8_t> data) {
  std::vector<uint32_t> out;
  out.reserve(data.size() / params.avg + 1);
  ForEachChunk(params, data, [&](size_t, size_t n) {
    out.push_back(static_cast<uint32_t>(n));
  });
  return out;
}

}  // namespace dfs::repl
