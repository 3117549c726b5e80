#include "dfs/referral/namespace_copy.h"

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"

namespace dfs::referral {

std::string EncodeChangesRequest(const ChangesRequest& request) {
  ByteWriter w;
  w.U64(request.since);
  w.U32(request.max_entries);
  return w.Take();
}

Result<ChangesRequest> DecodeChangesRequest(std::string_view bytes) {
  ByteReader r(bytes);
  ChangesRequest request;
  DFS_ASSIGN_OR_RETURN(request.since, r.U64("since"));
  DFS_ASSIGN_OR_RETURN(request.max_entries, r.U32("max entries"));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("changes request"));
  if (request.max_entries == 0 || request.max_entries > kMaxChangesPerReply) {
    request.max_entries = kMaxChangesPerReply;
  }
  return request;
}

std::string EncodeChangesReply(const ChangesReply& reply) {
  ByteWriter w;
  w.U8(reply.resync_needed ? 1 : 0);
  w.U64(reply.primary_serial);
  w.U32(static_cast<uint32_t>(reply.entries.size()));
  for (const auto& e : reply.entries) w.String(ns::EncodeChangeEntry(e));
  return w.Take();
}

Result<ChangesReply> DecodeChangesReply(std::string_view bytes) {
  ByteReader r(bytes);
  ChangesReply reply;
  DFS_ASSIGN_OR_RETURN(uint8_t resync, r.U8("resync flag"));
  if (resync > 1) return Fail(Errc::kCorrupt, "resync flag is not 0 or 1");
  reply.resync_needed = resync == 1;
  DFS_ASSIGN_OR_RETURN(reply.primary_serial, r.U64("primary serial"));
  DFS_ASSIGN_OR_RETURN(uint32_t n, r.U32("entry count"));
  if (n > kMaxChangesPerReply) {
    return Fail(Errc::kLimitExceeded,
                std::to_string(n) + " entries in one reply; the limit is " +
                    std::to_string(kMaxChangesPerReply));
  }
  uint64_t previous = 0;
  for (uint32_t i = 0; i < n; ++i) {
    DFS_ASSIGN_OR_RETURN(std::string bytes_i,
                         r.String("change entry", kMaxReplicationEntryBytes));
    DFS_ASSIGN_OR_RETURN(ns::ChangeEntry e, ns::DecodeChangeEntry(bytes_i));
    if (i > 0 && e.serial != previous + 1) {
      return Fail(Errc::kCorrupt,
                  "change entries out of order: " + std::to_string(previous) +
                      " then " + std::to_string(e.serial));
    }
    previous = e.serial;
    reply.entries.push_back(std::move(e));
  }
  DFS_RETURN_IF_ERROR(r.ExpectEnd("changes reply"));
  return reply;
}

}  // namespace dfs::referral
