// Fuzz target: what dfsrd members say to each other (repl/index.h): every
// byte of an index reply, a file or batch request or reply, and a packed
// message comes from a peer. Properties:
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
  if (auto batch = DecodeBatchRequest(bytes)) {
    if (batch->files.size() > kMaxBatchEntries) std::abort();
  }
  if (auto batch = DecodeBatchReply(bytes)) {
    uint64_t total = 0;
    for (const auto& f : batch->files) total += f.size;
    if (total > kMaxBatchBytes) std::abort();
  }
  // A packed message never unpacks past the limit it is given.
  if (auto unpacked = Unpack(bytes, 1 << 16)) {
    if (unpacked->size() > (1 << 16)) std::abort();
  }
  if (auto record = DecodeRecord(bytes)) {
    if (EncodeRecord(*record) != bytes) std::abort();
  }
  return 0;
}
