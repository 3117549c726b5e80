// Fuzz target: the namespace record and change-log decoders, which will
// read bytes a replica receives from its primary (#4). Property: decoding
// never crashes, and whatever decodes re-encodes to a value that decodes
// to the same thing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/ns/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto e = dfs::ns::DecodeChangeEntry(bytes)) {
    auto again = dfs::ns::DecodeChangeEntry(dfs::ns::EncodeChangeEntry(*e));
    if (!again || !(*again == *e)) std::abort();
  }
  if (auto r = dfs::ns::DecodeRoot(bytes)) {
    auto again = dfs::ns::DecodeRoot(dfs::ns::EncodeRoot(*r));
    if (!again || !(*again == *r)) std::abort();
  }
  if (auto f = dfs::ns::DecodeFolder(bytes)) {
    auto again = dfs::ns::DecodeFolder(dfs::ns::EncodeFolder(*f));
    if (!again || !(*again == *f)) std::abort();
  }
  return 0;
}
