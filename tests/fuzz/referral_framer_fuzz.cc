// Fuzz target: the TCP framer fed a byte stream in uneven pieces, as a
// socket delivers it. Properties: no crash; buffering never exceeds one
// frame; frames found whole equal frames found piecewise.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/referral/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  dfs::referral::Framer whole, pieces;
  auto all = whole.Feed(bytes);
  std::vector<dfs::referral::Frame> got;
  bool failed = false;
  for (size_t at = 0; at < bytes.size() && !failed;) {
    size_t n = 1 + (static_cast<uint8_t>(bytes[at]) % 7);
    n = std::min(n, bytes.size() - at);
    auto frames = pieces.Feed(bytes.substr(at, n));
    if (!frames) {
      failed = true;
      break;
    }
    got.insert(got.end(), frames->begin(), frames->end());
    if (pieces.buffered() > dfs::referral::kFrameHeaderBytes +
                                dfs::referral::kMaxFramePayloadBytes) {
      std::abort();
    }
    at += n;
  }
  if (all.has_value() != !failed) std::abort();
  if (all && *all != got) std::abort();
  return 0;
}
