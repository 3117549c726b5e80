// The messages one namespace server uses to copy another's namespace
// (dfsd --replica-of; not file replication, which is dfs::repl and dfsrd):
// "what changed since serial N?" answered with the primary's change-log
// entries, or with "too far behind" when its log no longer reaches back that
// far, after which the replica asks for a snapshot. Pure encoders and decoders;
// the replica treats every byte from the network as hostile. Format:
// referral/FORMAT.md. Fuzz target: tests/fuzz/referral_changes_fuzz.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/codec.h"

namespace dfs::referral {

inline constexpr uint32_t kMaxChangesPerReply = 256;
// One logged change holds at most 10,000 records of a few KiB each.
inline constexpr size_t kMaxReplicationEntryBytes = size_t{64} << 20;

struct ChangesRequest {
  uint64_t since = 0;
  uint32_t max_entries = kMaxChangesPerReply;
};

struct ChangesReply {
  bool resync_needed = false;
  uint64_t primary_serial = 0;
  std::vector<ns::ChangeEntry> entries;
};

std::string EncodeChangesRequest(const ChangesRequest& request);
Result<ChangesRequest> DecodeChangesRequest(std::string_view bytes);
std::string EncodeChangesReply(const ChangesReply& reply);
Result<ChangesReply> DecodeChangesReply(std::string_view bytes);

}  // namespace dfs::referral
