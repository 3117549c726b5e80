// A clock a test moves by hand, and Asio timers that follow it: deadlines
// (idle timeouts, back-off pauses, write deadlines) are tested by moving
// the clock and running what became ready, never by waiting for them.
//
// Its time points are steady_clock's (a Clock may borrow another clock's
// time_point type), so the pure rules that take steady_clock time points
// take these unchanged. The wait traits say every deadline of this clock
// may be due now, so Asio's reactor compares each with now() whenever it
// runs instead of sleeping until it (a test drives the io_context with
// RunReady, which never blocks).
//
// Thread-safety: one test thread moves the clock; now() may be read from
// any thread.
#pragma once

#include <atomic>
#include <chrono>

#include "dfs/common/asio.h"

namespace dfs::testing {

struct ManualClock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;

  static time_point now() { return time_point(duration(ticks_.load())); }
  static void Advance(duration d) { ticks_ += d.count(); }

 private:
  // Starts a day in, not at zero: nothing mistakes it for "never".
  static inline std::atomic<rep> ticks_{
      std::chrono::duration_cast<duration>(std::chrono::hours(24)).count()};
};

struct ManualWaitTraits {
  static ManualClock::duration to_wait_duration(const ManualClock::duration&) {
    return ManualClock::duration::zero();
  }
  static ManualClock::duration to_wait_duration(
      const ManualClock::time_point&) {
    return ManualClock::duration::zero();
  }
};

using ManualTimer =
    boost::asio::basic_waitable_timer<ManualClock, ManualWaitTraits>;

// Runs every handler that is ready now (timers due on the manual clock,
// bytes that arrived), until none is left.
inline void RunReady(boost::asio::io_context& io) {
  // Bounded: a handler that keeps rescheduling itself fails the test
  // rather than hanging it.
  for (int round = 0; round < 1000; ++round) {
    io.restart();
    if (io.poll() == 0) return;
  }
}

}  // namespace dfs::testing
