// Fuzz target: remote-administration payloads. The server decodes
// commands only after authentication, the client decodes results from the
// server; both stay bounded and never crash. Property: decode(encode(x))
// == x for whatever decodes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/referral/admin.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto c = dfs::referral::DecodeAdminCommand(bytes)) {
    if (dfs::referral::DecodeAdminCommand(dfs::referral::EncodeAdminCommand(*c))
            .value() != *c) {
      std::abort();
    }
  }
  if (auto r = dfs::referral::DecodeAdminResult(bytes)) {
    if (dfs::referral::DecodeAdminResult(dfs::referral::EncodeAdminResult(*r))
            .value() != *r) {
      std::abort();
    }
  }
  return 0;
}
