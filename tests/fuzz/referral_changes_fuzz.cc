// Fuzz target: what a replica reads from its primary (changes replies and
// snapshots). Properties: no crash; a decoded reply re-encodes to bytes
// that decode to the same reply.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/ns/codec.h"
#include "dfs/referral/namespace_copy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto reply = dfs::referral::DecodeChangesReply(bytes)) {
    auto again = dfs::referral::DecodeChangesReply(
        dfs::referral::EncodeChangesReply(*reply));
    if (!again || again->entries != reply->entries ||
        again->primary_serial != reply->primary_serial) {
      std::abort();
    }
  }
  (void)dfs::referral::DecodeChangesRequest(bytes);
  (void)dfs::ns::DecodeChangeEntry(bytes, dfs::ns::kMaxSnapshotMutations);
  return 0;
}
