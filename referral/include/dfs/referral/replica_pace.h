// How a replica (dfsd --replica-of) paces its questions to its primary,
// decided from each changes reply alone: pure, no clock (the follower
// waits what it is told), so the policy is tested without time passing.
//
//   caught up                 -> wait `interval`, then ask again
//   behind, and it progressed -> ask again at once (more to fetch)
//   behind, no progress       -> the primary claims more than it sends:
//                                wait, twice as long each time in a row,
//                                up to `max_stall_pause`
// Thread-safety: none (one per follower).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace dfs::referral {

class ReplicaPace {
 public:
  ReplicaPace(std::chrono::milliseconds interval,
              std::chrono::milliseconds max_stall_pause)
      : interval_(interval),
        max_stall_(std::max(interval, max_stall_pause)),
        next_stall_(interval) {}

  struct Next {
    std::chrono::milliseconds wait{0};  // 0: ask again at once
    bool fell_behind = false;           // the first reply of a lag
    bool stalled_first = false;  // the first stall in a row (worth a log)
    bool caught_up = false;      // the end of a lag
  };

  // After one reply: our serial before asking, after applying what came,
  // and the serial the primary claims.
  Next After(uint64_t before, uint64_t after, uint64_t primary) {
    Next next;
    if (after < primary) {
      next.fell_behind = !behind_;
      behind_ = true;
      if (after > before) {
        next_stall_ = interval_;  // progress: more to fetch right away
        return next;
      }
      next.stalled_first = next_stall_ == interval_;
      next.wait = next_stall_;
      next_stall_ = std::min(next_stall_ * 2, max_stall_);
      return next;
    }
    next.caught_up = behind_;
    behind_ = false;
    next_stall_ = interval_;
    next.wait = interval_;
    return next;
  }

 private:
  std::chrono::milliseconds interval_, max_stall_, next_stall_;
  bool behind_ = false;
};

}  // namespace dfs::referral
