// Injected time. Production code takes a Clock& so that tests can use a
// fake one and never sleep.
// Thread-safety: SystemClock is stateless and safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>

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

// Milliseconds since the Unix epoch, by `clock`.
inline int64_t UnixMillis(const Clock& clock = SystemClock::Instance()) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             clock.Now().time_since_epoch())
      .count();
}

}  // namespace dfs
