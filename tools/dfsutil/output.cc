#include "output.h"

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

}  // namespace dfs::tools
