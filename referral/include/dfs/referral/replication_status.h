// The replication section of dfsd's status page, without sockets: dfsd
// polls each dfsrd member named by --dfsrd (an allow-list the operator
// gives: dfsd never asks an address a client named) at GET /status on the
// member's metrics address, parses the answer here (untrusted bytes: every
// length against a limit, every field typed, fuzzed by
// tests/fuzz/referral_replication_fuzz.cc) and merges the readings into
// /api/replication: per replicated folder (group), each member with its
// links, backlog both ways, oldest pending change, conflicts and the bytes
// deltas saved. Formats: referral/FORMAT.md "Status page".
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::referral {

// A member's whole HTTP answer is read up to this; more is refused.
inline constexpr size_t kMaxMemberStatusBytes = 1 << 20;
inline constexpr size_t kMaxMemberStatusPeers = 256;
inline constexpr size_t kMaxMemberStatusNameBytes = 255;
// --dfsrd addresses dfsd accepts.
inline constexpr size_t kMaxDfsrdMembers = 256;

struct MemberPeerStatus {
  std::string name;
  bool connected = false;
  std::optional<int64_t> last_contact_ms_ago;
  uint64_t backlog_in = 0;   // their records not taken (an upper bound)
  uint64_t backlog_out = 0;  // ours they lack (exact when complete)
  bool backlog_out_complete = true;
  std::optional<int64_t> oldest_pending_out_ms_ago;
  bool rejoining = false;
};

struct MemberStatus {
  std::string group, member, folder;
  uint64_t records = 0, conflicts = 0, conflicts_kept = 0, bytes_saved = 0,
           content_bytes_received = 0, bytes_received = 0;
  std::vector<MemberPeerStatus> peers;
};

// A member's answer to `GET /status` (the whole HTTP response: status line,
// head, JSON body). Errors: kCorrupt / kLimitExceeded saying what is wrong
// (not 200, no body, too large, not the JSON dfsrd sends).
Result<MemberStatus> ParseMemberStatusResponse(std::string_view response);

// What dfsd knows of one --dfsrd address.
struct MemberReading {
  std::string address;  // as configured (IP:PORT)
  // The last answer that parsed (kept while the member is unreachable:
  // the page shows it as stale), and when it came.
  std::optional<MemberStatus> last;
  int64_t last_ok_ms = 0;
  // Whether the latest poll got an answer, and else why not.
  bool reachable = false;
  std::string error;
};

// /api/replication: {"configured": N, "at_ms": now, "groups": [{"group",
// "members": [...]}]} (referral/FORMAT.md). A member's backlog in from a
// peer is taken from that peer's own exact count of what it holds for the
// member when the peer answered, else the member's upper bound; its
// oldest pending change in likewise comes from the peer.
std::string ReplicationJson(const std::vector<MemberReading>& readings,
                            int64_t now_ms);

}  // namespace dfs::referral
