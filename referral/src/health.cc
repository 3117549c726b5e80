#include "dfs/referral/health.h"

namespace dfs::referral {

HealthChange HealthTable::Record(std::string_view server, bool up) {
  const std::string key = ns::FoldCase(server);
  auto [it, inserted] = up_.try_emplace(key, up);
  if (!inserted && it->second == up) return HealthChange::kNone;
  it->second = up;
  if (up) {
    if (inserted) return HealthChange::kNone;
    --down_;
    return HealthChange::kCameUp;
  }
  ++down_;
  return HealthChange::kWentDown;
}

std::optional<bool> HealthTable::Known(std::string_view server) const {
  auto it = up_.find(std::string_view(ns::FoldCase(server)));
  if (it == up_.end()) return std::nullopt;
  return it->second;
}

bool HealthTable::Healthy(const ns::Target& target) const {
  if (up_.empty()) return true;
  // One scratch per thread: concurrent readers share the table, not this.
  thread_local std::string key;
  key.clear();
  ns::FoldCaseAppend(target.server, key);
  auto it = up_.find(std::string_view(key));
  return it == up_.end() || it->second;
}

}  // namespace dfs::referral
