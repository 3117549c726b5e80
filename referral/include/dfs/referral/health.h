// What dfsd's prober learned about target servers, and the question every
// referral asks of it (is this target's server up?). Pure: the prober in
// referral_net connects and reports; this keeps the table and says when a
// server changed state (for the DFS1001/DFS1002 log lines and metrics).
// A server never probed counts as up.
// Thread-safety: Healthy may run on several threads at once while nothing
// calls Record (dfsd's workers read under a lock its io thread writes
// under).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "dfs/ns/index.h"
#include "dfs/ns/model.h"
#include "dfs/ns/path.h"

namespace dfs::referral {

enum class HealthChange { kNone, kWentDown, kCameUp };

class HealthTable {
 public:
  // A probe's result for `server` (any case). kWentDown also for the
  // first result when it is "down"; a first "up" is no change.
  HealthChange Record(std::string_view server, bool up);
  // Whether `target`'s server was up at its last probe (or never probed).
  // Allocates nothing: it runs for every target of every referral.
  bool Healthy(const ns::Target& target) const;
  // The last probe's result for `server` (any case); nothing when it was
  // never probed.
  std::optional<bool> Known(std::string_view server) const;
  // Every probed server (folded name) and whether it was up.
  const ns::StringMap<bool>& servers() const { return up_; }
  size_t DownCount() const { return down_; }

 private:
  ns::StringMap<bool> up_;  // folded server name -> last probe result
  size_t down_ = 0;
};

}  // namespace dfs::referral
