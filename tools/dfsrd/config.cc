#include "config.h"

#include <fnmatch.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <type_traits>

#include "dfs/common/error.h"
#include "dfs/repl/index.h"

namespace dfs::dfsrd {

using nlohmann::json;

const MemberConfig& GroupConfig::self() const {
  for (const auto& m : members) {
    if (m.name == member) return m;
  }
  return members.front();  // LoadGroupConfig checked it is listed
}

std::vector<MemberConfig> GroupConfig::Upstreams() const {
  std::vector<MemberConfig> out;
  for (const auto& m : members) {
    if (m.name == member) continue;
    if (topology == "hub" && member != hub && m.name != hub) continue;
    out.push_back(m);
  }
  return out;
}

bool GroupConfig::Filtered(std::string_view name) const {
  const std::string n(name);
  for (const auto& pattern : filters) {
    if (fnmatch(pattern.c_str(), n.c_str(), 0) == 0) return true;
  }
  return false;
}

namespace {

Unexpected<Error> Bad(const std::string& why) {
  return Fail(Errc::kInvalidArgument, "dfsrd config: " + why);
}

template <typename T>
Status Read(const json& j, const char* key, T& out, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    return required ? Bad(std::string("missing \"") + key + "\"")
                    : Status::Ok();
  }
  // JSON numbers convert silently (-5 to a huge unsigned, 2.5 to 2):
  // numbers must be of the key's kind.
  bool right_kind = true;
  if constexpr (std::is_same_v<T, bool>) {
    right_kind = it->is_boolean();
  } else if constexpr (std::is_unsigned_v<T>) {
    right_kind = it->is_number_unsigned();
  } else if constexpr (std::is_integral_v<T>) {
    right_kind = it->is_number_integer();
  } else if constexpr (std::is_floating_point_v<T>) {
    right_kind = it->is_number();
  }
  if (!right_kind)
    return Bad(std::string("\"") + key + "\" has the wrong type");
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    return Bad(std::string("\"") + key + "\" has the wrong type");
  }
  return Status::Ok();
}

}  // namespace

Result<GroupConfig> ParseGroupConfig(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  GroupConfig c;
  std::string key_file, state_dir;
  DFS_RETURN_IF_ERROR(Read(j, "group", c.group, true));
  DFS_RETURN_IF_ERROR(Read(j, "member", c.member, true));
  DFS_RETURN_IF_ERROR(Read(j, "key_file", key_file, true));
  DFS_RETURN_IF_ERROR(Read(j, "state_dir", state_dir, true));
  DFS_RETURN_IF_ERROR(Read(j, "topology", c.topology, false));
  DFS_RETURN_IF_ERROR(Read(j, "hub", c.hub, false));
  DFS_RETURN_IF_ERROR(Read(j, "filters", c.filters, false));
  DFS_RETURN_IF_ERROR(Read(j, "tombstone_days", c.tombstone_days, false));
  DFS_RETURN_IF_ERROR(Read(j, "conflict_quota_mb", c.conflict_quota_mb, false));
  DFS_RETURN_IF_ERROR(Read(j, "bandwidth_kbps", c.bandwidth_kbps, false));
  DFS_RETURN_IF_ERROR(Read(j, "metrics", c.metrics, false));
  int scan_ms = static_cast<int>(c.scan_interval.count());
  int poll_ms = static_cast<int>(c.poll_interval.count());
  int settle_ms = static_cast<int>(c.settle.count());
  int timeout_ms = static_cast<int>(c.peer_timeout.count());
  DFS_RETURN_IF_ERROR(Read(j, "scan_interval_ms", scan_ms, false));
  DFS_RETURN_IF_ERROR(Read(j, "poll_interval_ms", poll_ms, false));
  DFS_RETURN_IF_ERROR(Read(j, "settle_ms", settle_ms, false));
  DFS_RETURN_IF_ERROR(Read(j, "peer_timeout_ms", timeout_ms, false));
  if (scan_ms < 10 || poll_ms < 10 || settle_ms < 0 || timeout_ms < 100) {
    return Bad("intervals too short (scan and poll >= 10 ms, timeout >= 100)");
  }
  c.scan_interval = std::chrono::milliseconds(scan_ms);
  c.poll_interval = std::chrono::milliseconds(poll_ms);
  c.settle = std::chrono::milliseconds(settle_ms);
  c.peer_timeout = std::chrono::milliseconds(timeout_ms);
  // A second at least (tests), a century at most.
  if (!(c.tombstone_days * 86'400 >= 1) || c.tombstone_days > 36'500) {
    return Bad("\"tombstone_days\" must be between 1/86400 and 36500");
  }
  c.key_file = key_file;
  c.state_dir = state_dir;
  if (!repl::ValidateMemberName(c.group).ok()) {
    return Bad("\"group\" must be 1 to 64 of [A-Za-z0-9._-]");
  }
  auto members = j.find("members");
  if (members == j.end() || !members->is_array() || members->empty()) {
    return Bad("\"members\" must list the group's members");
  }
  if (members->size() > repl::kMaxMembers) {
    return Bad("at most " + std::to_string(repl::kMaxMembers) + " members");
  }
  std::set<std::string> names;
  for (const auto& m : *members) {
    if (!m.is_object()) return Bad("a member must be an object");
    MemberConfig mc;
    std::string folder;
    DFS_RETURN_IF_ERROR(Read(m, "name", mc.name, true));
    DFS_RETURN_IF_ERROR(Read(m, "address", mc.address, true));
    DFS_RETURN_IF_ERROR(Read(m, "folder", folder, true));
    if (!repl::ValidateMemberName(mc.name).ok()) {
      return Bad("member name '" + mc.name +
                 "' must be 1 to 64 of [A-Za-z0-9._-]");
    }
    if (!names.insert(mc.name).second) {
      return Bad("member '" + mc.name + "' is listed twice");
    }
    mc.folder = folder;
    if (!mc.folder.is_absolute()) {
      return Bad("member '" + mc.name + "': \"folder\" must be absolute");
    }
    c.members.push_back(std::move(mc));
  }
  if (!names.contains(c.member)) {
    return Bad("this member '" + c.member + "' is not in \"members\"");
  }
  if (c.topology != "mesh" && c.topology != "hub") {
    return Bad("\"topology\" must be \"mesh\" or \"hub\"");
  }
  if (c.topology == "hub" && !names.contains(c.hub)) {
    return Bad("topology \"hub\" needs \"hub\": a member's name");
  }
  return c;
}

Result<GroupConfig> LoadGroupConfig(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Fail(Errc::kNotFound, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return ParseGroupConfig(text.str());
}

}  // namespace dfs::dfsrd
