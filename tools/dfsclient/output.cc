#include "output.h"

#include <sstream>

#include "dfs/ns/path.h"

namespace dfs::tools {
namespace {

int64_t SecondsUntil(Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             t - SystemClock::Instance().Now())
      .count();
}

}  // namespace

nlohmann::json ResolutionJson(const client::Resolution& r) {
  nlohmann::json targets = nlohmann::json::array();
  for (size_t i = 0; i < r.targets.size(); ++i) {
    targets.push_back({{"target", r.targets[i].unc},
                       {"local_root", r.targets[i].local_root},
                       {"state", client::TargetStateName(r.targets[i].state)},
                       {"active", i == r.active}});
  }
  return {
      {"prefix", r.prefix},
      {"remainder", r.remainder},
      {"local_path", r.local_path},
      {"root_referral", r.root_referral},
      {"ttl", r.ttl_seconds},
      {"expires_in", SecondsUntil(r.expires_at)},
      {"expires_at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                            r.expires_at.time_since_epoch())
                            .count()},
      {"failback", r.failback},
      {"from_cache", r.from_cache},
      {"active", r.active},
      {"targets", targets}};
}

nlohmann::json CacheJson(const std::vector<client::CacheEntryView>& entries) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries) {
    nlohmann::json j = ResolutionJson(e.referral);
    j["key"] = e.key;
    out.push_back(std::move(j));
  }
  return out;
}

std::string CacheText(const nlohmann::json& cache) {
  if (cache.empty()) return "(the referral cache is empty)\n";
  std::ostringstream o;
  for (const auto& e : cache) {
    const std::string prefix = e.value("prefix", "");
    const std::string key = e.value("key", "");
    const int64_t left = e.value("expires_in", int64_t{0});
    o << prefix << (key != ns::FoldCase(prefix) ? "  (for " + key + ")" : "")
      << "\n  " << (e.value("root_referral", false) ? "root" : "folder")
      << ", ttl " << e.value("ttl", 0) << " s, "
      << (left > 0 ? "expires in " + std::to_string(left) + " s"
                   : std::string("expired"))
      << ", failback " << (e.value("failback", false) ? "on" : "off") << "\n";
    for (const auto& t : e.value("targets", nlohmann::json::array())) {
      o << (t.value("active", false) ? "  * " : "    ") << t.value("target", "")
        << "  -> " << t.value("local_root", "") << "  " << t.value("state", "")
        << "\n";
    }
  }
  return o.str();
}

}  // namespace dfs::tools
