// Fuzz target: the sync exchange's messages (Hello, GetChunks,
// DeltaStart) and the frame header they travel under, as either peer
// receives them.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/referral/framing.h"
#include "dfs/repl/sync.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto h = dfs::referral::DecodeFrameHeader(
          bytes.substr(0, 5), dfs::repl::kMaxSyncFrameBytes + 1)) {
    if (h->second > dfs::repl::kMaxSyncFrameBytes + 1) std::abort();
  }
  if (auto hello = dfs::repl::DecodeHello(bytes)) {
    if (dfs::repl::EncodeHello(*hello) != bytes) std::abort();
  }
  if (auto g = dfs::repl::DecodeGetChunks(bytes)) {
    for (size_t i = 1; i < g->indices.size(); ++i) {
      if (g->indices[i] <= g->indices[i - 1]) std::abort();
    }
    if (dfs::repl::DecodeGetChunks(dfs::repl::EncodeGetChunks(*g))
            .value()
            .indices != g->indices) {
      std::abort();
    }
  }
  (void)dfs::repl::DecodeDeltaHeader(bytes);
  return 0;
}
