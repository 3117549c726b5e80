#include "output.h"

#include <ctime>
#include <ostream>

namespace dfs::tools {

using json = nlohmann::ordered_json;

json ToJson(const ns::Target& t) {
  json j = {{"path", t.Unc()},
            {"server", t.server},
            {"share", t.share},
            {"state", ns::ToString(t.state)},
            {"priorityClass", ns::ToString(t.priority_class)},
            {"priorityRank", t.priority_rank}};
  j["site"] = t.site.empty() ? json(nullptr) : json(t.site);
  return j;
}

namespace {

json TargetsJson(const std::vector<ns::Target>& targets) {
  json out = json::array();
  for (const auto& t : targets) out.push_back(ToJson(t));
  return out;
}

std::string_view PriorityLabel(ns::PriorityClass c) {
  switch (c) {
    case ns::PriorityClass::kGlobalHigh:
      return "first among all targets";
    case ns::PriorityClass::kGlobalLow:
      return "last among all targets";
    case ns::PriorityClass::kSiteCostHigh:
      return "first among equal cost";
    case ns::PriorityClass::kSiteCostLow:
      return "last among equal cost";
    case ns::PriorityClass::kSiteCostNormal:
      break;
  }
  return "normal";
}

void PrintTargets(std::ostream& out, const std::vector<ns::Target>& targets,
                  const char* indent) {
  for (const auto& t : targets) {
    out << indent << t.Unc() << "  state=" << ns::ToString(t.state)
        << "  priority=" << ns::ToString(t.priority_class) << " ("
        << PriorityLabel(t.priority_class) << ")"
        << "  rank=" << int{t.priority_rank};
    if (!t.site.empty()) out << "  site=" << t.site;
    out << "\n";
  }
}

}  // namespace

json ToJson(const ns::Root& r) {
  return {{"path", r.Path()},
          {"host", r.host},
          {"name", r.name},
          {"state", ns::ToString(r.state)},
          {"ttl", r.ttl_seconds},
          {"failback", r.failback},
          {"ordering", ns::ToString(r.ordering)},
          {"comment", r.comment},
          {"namespaceServers", TargetsJson(r.targets)}};
}

json ToJson(const ns::Root& root, const ns::Folder& f) {
  return {{"path", root.Path() + "\\" + f.path},
          {"folder", f.path},
          {"state", ns::ToString(f.state)},
          {"ttl", f.ttl_seconds},
          {"failback", ns::ToString(f.failback)},
          {"effectiveFailback", ns::EffectiveFailback(root, f)},
          {"comment", f.comment},
          {"targets", TargetsJson(f.targets)}};
}

void PrintTree(std::ostream& out, const ns::Root& r,
               const std::vector<ns::Folder>& folders) {
  out << r.Path() << "\n"
      << "  state=" << ns::ToString(r.state) << "  ttl=" << r.ttl_seconds
      << "s  failback=" << (r.failback ? "on" : "off")
      << "  ordering=" << ns::ToString(r.ordering) << "\n";
  if (!r.comment.empty()) out << "  comment: " << r.comment << "\n";
  if (!r.targets.empty()) {
    out << "  namespace servers:\n";
    PrintTargets(out, r.targets, "    ");
  }
  for (const auto& f : folders) {
    out << "  " << f.path << "\n"
        << "    state=" << ns::ToString(f.state) << "  ttl=" << f.ttl_seconds
        << "s  failback=" << ns::ToString(f.failback);
    if (f.failback == ns::Failback::kInherit) {
      out << " (" << (ns::EffectiveFailback(r, f) ? "on" : "off") << ")";
    }
    out << "\n";
    if (!f.comment.empty()) out << "    comment: " << f.comment << "\n";
    PrintTargets(out, f.targets, "    -> ");
  }
}

void RenderError(std::ostream& out, std::ostream& err, bool as_json,
                 const Error& e) {
  err << "dfsutil: error: " << e.Message() << "\n";
  if (as_json) {
    out << json{{"ok", false},
                {"error", e.Message()},
                {"code", e.code.message()}}
               .dump()
        << "\n";
  }
}

void RenderChange(std::ostream& out, bool as_json,
                  const std::string& description, uint64_t serial) {
  if (as_json) {
    out << json{{"ok", true}, {"change", description}, {"serial", serial}}
               .dump()
        << "\n";
  } else {
    out << "ok: " << description << " (serial " << serial << ")\n";
  }
}

void RenderShow(std::ostream& out, bool as_json, const ns::Root& root,
                uint64_t serial, const std::vector<ns::Folder>& folders) {
  if (!as_json) return PrintTree(out, root, folders);
  json j = ToJson(root);
  j["serial"] = serial;
  json list = json::array();
  for (const auto& f : folders) list.push_back(ToJson(root, f));
  j["folders"] = std::move(list);
  out << j.dump(2) << "\n";
}

void RenderRoots(std::ostream& out, bool as_json,
                 const std::vector<RootListing>& roots) {
  if (as_json) {
    json list = json::array();
    for (const auto& e : roots) {
      json j = ToJson(e.root);
      j["folderCount"] = e.folders;
      list.push_back(std::move(j));
    }
    out << json{{"roots", list}}.dump(2) << "\n";
    return;
  }
  for (const auto& e : roots) {
    out << e.root.Path() << "  (" << e.folders << " folders, ttl "
        << e.root.ttl_seconds << "s, " << ns::ToString(e.root.state) << ")\n";
  }
}

void RenderSites(std::ostream& out, bool as_json,
                 const std::vector<ns::PutSubnet>& subnets,
                 const std::vector<ns::PutSiteCost>& costs) {
  if (as_json) {
    json s = json::array(), c = json::array();
    for (const auto& x : subnets)
      s.push_back({{"subnet", x.cidr}, {"site", x.site}});
    for (const auto& x : costs)
      c.push_back({{"siteA", x.site_a}, {"siteB", x.site_b}, {"cost", x.cost}});
    out << json{{"subnets", s}, {"costs", c}}.dump(2) << "\n";
    return;
  }
  for (const auto& x : subnets)
    out << "subnet " << x.cidr << " -> " << x.site << "\n";
  for (const auto& x : costs) {
    out << "cost " << x.site_a << " <-> " << x.site_b << " = " << x.cost
        << "\n";
  }
}

void RenderAliases(
    std::ostream& out, bool as_json,
    const std::vector<std::pair<std::string, std::string>>& aliases) {
  if (as_json) {
    json list = json::array();
    for (const auto& [a, c] : aliases) {
      list.push_back({{"alias", a}, {"canonical", c}});
    }
    out << json{{"aliases", list}}.dump(2) << "\n";
    return;
  }
  for (const auto& [a, c] : aliases) out << a << " = " << c << "\n";
}

namespace {

std::string FormatTime(int64_t unix_millis) {
  std::time_t t = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

void RenderLog(std::ostream& out, bool as_json,
               const std::vector<ns::ChangeEntry>& entries) {
  json list = json::array();
  for (const auto& e : entries) {
    if (as_json) {
      list.push_back({{"serial", e.serial},
                      {"time", FormatTime(e.unix_millis)},
                      {"change", e.description},
                      {"mutations", e.mutations.size()},
                      {"resyncRequired", e.resync_required}});
    } else {
      out << e.serial << "  " << FormatTime(e.unix_millis) << "  "
          << e.description << "  (" << e.mutations.size() << " records"
          << (e.resync_required ? ", resync" : "") << ")\n";
    }
  }
  if (as_json) out << json{{"changes", list}}.dump(2) << "\n";
}

void RenderStoreInfo(std::ostream& out, bool as_json, const json& info) {
  if (as_json) {
    out << info.dump(2) << "\n";
    return;
  }
  for (auto& [k, v] : info.items()) out << k << ": " << v << "\n";
}

void RenderReferral(std::ostream& out, bool as_json, const std::string& path,
                    const referral::Referral& r, int level, size_t bytes,
                    const std::string& raw_file) {
  if (as_json) {
    json targets = json::array();
    for (const auto& t : r.targets) {
      targets.push_back(
          {{"path", t.path},
           {"targetSetBoundary", t.set_boundary},
           {"priorityClass", ns::ToString(t.priority_class)},
           {"priorityRank", t.priority_rank},
           {"site", t.site.empty() ? json(nullptr) : json(t.site)}});
    }
    out << json{{"path", path},
                {"referral", r.root_referral ? "root" : "folder"},
                {"dfsPath", r.dfs_path},
                {"pathConsumedBytes", r.path_consumed_bytes},
                {"ttl", r.ttl_seconds},
                {"failback", r.failback},
                {"version", std::min(level, 4)},
                {"bytes", bytes},
                {"targets", targets}}
               .dump(2)
        << "\n";
    return;
  }
  out << (r.root_referral ? "root referral" : "folder referral") << " for "
      << r.dfs_path << "\n"
      << "  PathConsumed=" << r.path_consumed_bytes
      << " bytes  ttl=" << r.ttl_seconds
      << "s  failback=" << (r.failback ? "on" : "off")
      << "  version=" << std::min(level, 4) << "  " << bytes << " bytes\n";
  int n = 0;
  for (const auto& t : r.targets) {
    out << "  " << ++n << ". " << t.path
        << (t.set_boundary ? "  [new target set]" : "") << "\n";
  }
  if (!raw_file.empty())
    out << "  RESP_GET_DFS_REFERRAL written to " << raw_file << "\n";
}

void RenderServerReferral(std::ostream& out, bool as_json,
                          const std::string& server,
                          const referral::DecodedResponse& d) {
  namespace ref = referral;
  json entries = json::array();
  for (const auto& e : d.entries) {
    entries.push_back(
        {{"path", e.network_address},
         {"version", e.version},
         {"targetSetBoundary", (e.flags & ref::kTargetSetBoundary) != 0}});
  }
  const bool root = !d.entries.empty() && d.entries[0].server_type == 1;
  const uint32_t ttl = d.entries.empty() ? 0 : d.entries[0].ttl;
  const std::string dfs_path = d.entries.empty() ? "" : d.entries[0].dfs_path;
  if (as_json) {
    out << json{{"server", server},
                {"referral", root ? "root" : "folder"},
                {"dfsPath", dfs_path},
                {"pathConsumedBytes", d.path_consumed},
                {"ttl", ttl},
                {"failback", (d.header_flags & ref::kTargetFailback) != 0},
                {"targets", entries}}
               .dump(2)
        << "\n";
    return;
  }
  out << (root ? "root referral" : "folder referral") << " for " << dfs_path
      << " from " << server << "\n  PathConsumed=" << d.path_consumed
      << " bytes  ttl=" << ttl << "s  failback="
      << ((d.header_flags & ref::kTargetFailback) ? "on" : "off") << "\n";
  int n = 0;
  for (const auto& e : d.entries) {
    out << "  " << ++n << ". " << e.network_address
        << ((e.flags & ref::kTargetSetBoundary) ? "  [new target set]" : "")
        << "\n";
  }
}

}  // namespace dfs::tools
