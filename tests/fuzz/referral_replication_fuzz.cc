// Fuzz target: a dfsrd member's answer to GET /status as dfsd's poller
// reads it (referral/replication_status.h). Properties: no crash; what
// parses keeps every limit and merges into JSON that parses back.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "dfs/referral/replication_status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dfs::referral;
  std::string_view answer(reinterpret_cast<const char*>(data), size);
  auto status = ParseMemberStatusResponse(answer);
  if (!status) return 0;
  if (status->peers.size() > kMaxMemberStatusPeers) std::abort();
  if (status->group.empty() || status->member.empty() ||
      status->group.size() > kMaxMemberStatusNameBytes ||
      status->member.size() > kMaxMemberStatusNameBytes) {
    std::abort();
  }
  MemberReading reading;
  reading.address = "127.0.0.1:1";
  reading.last = *status;
  reading.reachable = true;
  // The same member twice: its own view is its peers' view of it.
  const std::string merged = ReplicationJson({reading, reading}, 1000);
  if (nlohmann::json::parse(merged, nullptr, false).is_discarded()) {
    std::abort();
  }
  return 0;
}
