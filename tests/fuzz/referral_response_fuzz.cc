// Fuzz target: RESP_GET_DFS_REFERRAL as a client (#5) receives it from a
// possibly hostile server, and the error frames it may send instead.
// Property: no crash, no out-of-bounds read, error messages stay bounded.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)dfs::referral::DecodeResponse(bytes);
  auto error = dfs::referral::DecodeErrorPayload(bytes);
  if (error.message.size() > dfs::referral::kMaxErrorMessageBytes + 4)
    std::abort();
  return 0;
}
