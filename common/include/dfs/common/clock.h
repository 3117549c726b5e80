// Injected time. Production code takes a Clock& so that tests can use a
// fake one and never sleep.
// Thread-safety: SystemClock is stateless and safe from any thread.
#pragma once

#include <chrono>

namespace dfs {

class Clock {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

}  // namespace dfs
