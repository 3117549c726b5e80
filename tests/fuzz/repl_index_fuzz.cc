// Fuzz target: what dfsrd members say to each other (repl/index.h): every
// byte of an index reply or a file request comes from a peer. Properties:
// decoding never crashes, never reads out of bounds, and whatever decodes
// names only paths inside the folder and re-encodes to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/repl/index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dfs::repl;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto reply = DecodeIndexReply(bytes)) {
    for (const auto& r : reply->records) {
      if (!ValidateRelativePath(r.path).ok()) std::abort();
    }
    if (EncodeIndexReply(*reply) != bytes) std::abort();
  }
  if (auto request = DecodeFileRequest(bytes)) {
    if (!ValidateRelativePath(request->path).ok()) std::abort();
  }
  (void)DecodeIndexRequest(bytes);
  if (auto record = DecodeRecord(bytes)) {
    if (EncodeRecord(*record) != bytes) std::abort();
  }
  return 0;
}
