#include "dfs/referral/replication_status.h"

#include <map>
#include <nlohmann/json.hpp>

#include "dfs/common/error.h"

namespace dfs::referral {

using nlohmann::json;

namespace {

// A JSON field of an untrusted answer, typed; each failure names the field.
class Fields {
 public:
  Fields(const json& object, std::string what)
      : object_(object), what_(std::move(what)) {}

  Result<std::string> Name(const char* key, bool required = true) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (!required) return std::string();
      return Bad(key, "is missing");
    }
    if (!it->is_string()) return Bad(key, "is not a string");
    const std::string& s = it->get_ref<const std::string&>();
    if (s.size() > kMaxMemberStatusNameBytes) {
      return Fail(Errc::kLimitExceeded,
                  what_ + " '" + key + "' is longer than " +
                      std::to_string(kMaxMemberStatusNameBytes) + " bytes");
    }
    for (unsigned char c : s) {
      if (c < 0x20 || c == 0x7f) return Bad(key, "holds a control character");
    }
    return s;
  }
  Result<uint64_t> Count(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return uint64_t{0};
    if (!it->is_number_unsigned() && !(it->is_number_integer() && *it >= 0)) {
      return Bad(key, "is not a count");
    }
    return it->get<uint64_t>();
  }
  Result<std::optional<int64_t>> Age(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return std::optional<int64_t>();
    if (!it->is_number_integer() || *it < 0) return Bad(key, "is not an age");
    return std::optional<int64_t>(it->get<int64_t>());
  }
  Result<bool> Flag(const char* key, bool missing) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return missing;
    if (!it->is_boolean()) return Bad(key, "is not true or false");
    return it->get<bool>();
  }

 private:
  Unexpected<Error> Bad(const char* key, const char* why) const {
    return Fail(Errc::kCorrupt, what_ + " '" + key + "' " + why);
  }
  const json& object_;
  std::string what_;
};

Result<MemberPeerStatus> ParsePeer(const json& j) {
  if (!j.is_object()) {
    return Fail(Errc::kCorrupt, "a peer in the status is not an object");
  }
  Fields f(j, "the peer's");
  MemberPeerStatus p;
  DFS_ASSIGN_OR_RETURN(p.name, f.Name("name"));
  DFS_ASSIGN_OR_RETURN(p.connected, f.Flag("connected", false));
  DFS_ASSIGN_OR_RETURN(p.last_contact_ms_ago, f.Age("last_contact_ms_ago"));
  DFS_ASSIGN_OR_RETURN(p.backlog_in, f.Count("backlog_in"));
  DFS_ASSIGN_OR_RETURN(p.backlog_out, f.Count("backlog_out"));
  DFS_ASSIGN_OR_RETURN(p.backlog_out_complete,
                       f.Flag("backlog_out_complete", false));
  DFS_ASSIGN_OR_RETURN(p.oldest_pending_out_ms_ago,
                       f.Age("oldest_pending_out_ms_ago"));
  DFS_ASSIGN_OR_RETURN(p.rejoining, f.Flag("rejoining", false));
  return p;
}

json AgeJson(const std::optional<int64_t>& ms) {
  return ms ? json(*ms) : json(nullptr);
}

}  // namespace

Result<MemberStatus> ParseMemberStatusResponse(std::string_view response) {
  if (response.size() > kMaxMemberStatusBytes) {
    return Fail(Errc::kLimitExceeded,
                "the status answer is larger than " +
                    std::to_string(kMaxMemberStatusBytes) + " bytes");
  }
  const size_t line_end = response.find("\r\n");
  const std::string_view status_line = response.substr(0, line_end);
  if (!(status_line.starts_with("HTTP/1.1 200") ||
        status_line.starts_with("HTTP/1.0 200"))) {
    return Fail(Errc::kCorrupt,
                "the member answered '" +
                    std::string(status_line.substr(0, 64)) +
                    "', not 200 (is this a dfsrd metrics address?)");
  }
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return Fail(Errc::kCorrupt, "the status answer has no body");
  }
  const json j =
      json::parse(response.substr(head_end + 4), nullptr, /*allow_exceptions=*/
                  false);
  if (j.is_discarded() || !j.is_object()) {
    return Fail(Errc::kCorrupt, "the status answer is not a JSON object");
  }
  Fields f(j, "the status's");
  MemberStatus s;
  DFS_ASSIGN_OR_RETURN(s.group, f.Name("group"));
  DFS_ASSIGN_OR_RETURN(s.member, f.Name("member"));
  if (s.group.empty() || s.member.empty()) {
    return Fail(Errc::kCorrupt, "the status names no group or member");
  }
  DFS_ASSIGN_OR_RETURN(s.folder, f.Name("folder", /*required=*/false));
  DFS_ASSIGN_OR_RETURN(s.records, f.Count("records"));
  DFS_ASSIGN_OR_RETURN(s.conflicts, f.Count("conflicts"));
  DFS_ASSIGN_OR_RETURN(s.conflicts_kept, f.Count("conflicts_kept"));
  DFS_ASSIGN_OR_RETURN(s.bytes_saved, f.Count("bytes_saved"));
  if (auto counters = j.find("counters");
      counters != j.end() && counters->is_object()) {
    Fields c(*counters, "the status's counter");
    DFS_ASSIGN_OR_RETURN(s.content_bytes_received,
                         c.Count("content_bytes_received"));
    DFS_ASSIGN_OR_RETURN(s.bytes_received, c.Count("bytes_received"));
  }
  auto peers = j.find("peers");
  if (peers == j.end() || !peers->is_array()) {
    return Fail(Errc::kCorrupt, "the status's 'peers' is not a list");
  }
  if (peers->size() > kMaxMemberStatusPeers) {
    return Fail(Errc::kLimitExceeded,
                "the status lists more than " +
                    std::to_string(kMaxMemberStatusPeers) + " peers");
  }
  for (const json& p : *peers) {
    DFS_ASSIGN_OR_RETURN(MemberPeerStatus peer, ParsePeer(p));
    s.peers.push_back(std::move(peer));
  }
  return s;
}

std::string ReplicationJson(const std::vector<MemberReading>& readings,
                            int64_t now_ms) {
  // Who answered, by (group, member): a peer's own figures about a member
  // are exact where the member's are bounds.
  std::map<std::pair<std::string, std::string>, const MemberReading*> fresh;
  for (const MemberReading& r : readings) {
    if (r.reachable && r.last) fresh[{r.last->group, r.last->member}] = &r;
  }
  auto peer_view = [&](const std::string& group, const std::string& peer,
                       const std::string& member) -> const MemberPeerStatus* {
    auto it = fresh.find({group, peer});
    if (it == fresh.end()) return nullptr;
    for (const MemberPeerStatus& p : it->second->last->peers) {
      if (p.name == member) return &p;
    }
    return nullptr;
  };

  std::map<std::string, json> groups;  // by name; "" for never answered
  for (const MemberReading& r : readings) {
    json m;
    m["address"] = r.address;
    m["reachable"] = r.reachable;
    m["error"] = r.error;
    if (!r.last) {
      m["member"] = nullptr;
      m["read_ms_ago"] = nullptr;
      groups[""].push_back(m);
      continue;
    }
    const MemberStatus& s = *r.last;
    m["member"] = s.member;
    m["folder"] = s.folder;
    m["read_ms_ago"] = now_ms - r.last_ok_ms;
    m["records"] = s.records;
    m["conflicts"] = s.conflicts;
    m["conflicts_kept"] = s.conflicts_kept;
    m["bytes_saved"] = s.bytes_saved;
    m["content_bytes_received"] = s.content_bytes_received;
    m["bytes_received"] = s.bytes_received;
    json peers = json::array();
    for (const MemberPeerStatus& p : s.peers) {
      json out;
      out["name"] = p.name;
      out["connected"] = r.reachable && p.connected;
      out["last_contact_ms_ago"] = AgeJson(p.last_contact_ms_ago);
      out["backlog_out"] = p.backlog_out;
      out["backlog_out_complete"] = p.backlog_out_complete;
      out["oldest_pending_out_ms_ago"] = AgeJson(p.oldest_pending_out_ms_ago);
      out["rejoining"] = p.rejoining;
      if (const MemberPeerStatus* theirs =
              peer_view(s.group, p.name, s.member)) {
        out["backlog_in"] = theirs->backlog_out;
        out["backlog_in_exact"] = theirs->backlog_out_complete;
        out["oldest_pending_in_ms_ago"] =
            AgeJson(theirs->oldest_pending_out_ms_ago);
      } else {
        out["backlog_in"] = p.backlog_in;
        out["backlog_in_exact"] = false;
        out["oldest_pending_in_ms_ago"] = nullptr;
      }
      peers.push_back(std::move(out));
    }
    m["peers"] = std::move(peers);
    groups[s.group].push_back(std::move(m));
  }
  // By name; members that never answered (no group known) last.
  json out_groups = json::array();
  for (auto& [name, members] : groups) {
    if (!name.empty()) {
      out_groups.push_back({{"group", name}, {"members", std::move(members)}});
    }
  }
  if (auto unknown = groups.find(""); unknown != groups.end()) {
    out_groups.push_back(
        {{"group", nullptr}, {"members", std::move(unknown->second)}});
  }
  return json{{"configured", readings.size()},
              {"at_ms", now_ms},
              {"groups", std::move(out_groups)}}
      .dump();
}

}  // namespace dfs::referral
