// Reconnection pacing: Next() doubles from `min` to `max`; Reset() after a
// success. Pure.
#pragma once

#include <algorithm>
#include <chrono>

namespace dfs {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
      : min_(min), max_(max), next_(min) {}
  std::chrono::milliseconds Next() {
    const auto now = next_;
    next_ = std::min(next_ * 2, max_);
    return now;
  }
  void Reset() { next_ = min_; }

 private:
  std::chrono::milliseconds min_, max_, next_;
};

}  // namespace dfs
