// Fuzz target: signature files and level streams (what a sender reads from
// a receiver). Bounded, never crashes; what decodes re-encodes the same.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/repl/signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto sig = dfs::repl::DecodeSignatureFile(bytes)) {
    if (dfs::repl::EncodeSignatureFile(*sig) != bytes) std::abort();
  }
  if (auto entries = dfs::repl::DecodeEntries(bytes, 1 << 16)) {
    (void)dfs::repl::EncodeEntries(*entries);
  }
  return 0;
}
