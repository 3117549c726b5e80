// Fuzz target: RESP_GET_DFS_REFERRAL as a client (#5) receives it from a
// possibly hostile server. Property: no crash, no out-of-bounds read.
#include <cstdint>
#include <string_view>

#include "dfs/referral/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)dfs::referral::DecodeResponse(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
