// The member's send budget (config `bandwidth_kbps`): one token bucket for
// all its links together, so a deploy replicating to many peers never
// takes more of the uplink than the operator gave it.
//
// TokenBucket is the pure rule (time passed in); RateLimiter wraps it
// for threads: each link's writes take their bytes and sleep their share
// (a take may run the bucket into debt, paid by waiting, so concurrent
// senders together keep the rate), and Cancel wakes every sleeper at stop.
// Thread-safety: TokenBucket none; RateLimiter all members.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace dfs::dfsrd {

class TokenBucket {
 public:
  using SteadyClock = std::chrono::steady_clock;
  // `bytes_per_second` > 0; `burst`: what may go at once after a pause.
  TokenBucket(uint64_t bytes_per_second, uint64_t burst,
              SteadyClock::time_point now)
      : rate_(static_cast<double>(bytes_per_second)),
        burst_(static_cast<double>(burst)),
        tokens_(static_cast<double>(burst)),
        last_(now) {}
  // Takes `bytes` at `now`: how long the caller waits before sending them.
  std::chrono::nanoseconds Take(uint64_t bytes, SteadyClock::time_point now) {
    if (now > last_) {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ >= 0) return std::chrono::nanoseconds(0);
    return std::chrono::nanoseconds(
        static_cast<int64_t>(-tokens_ / rate_ * 1e9));
  }

 private:
  double rate_, burst_, tokens_;
  SteadyClock::time_point last_;
};

class RateLimiter {
 public:
  // kbps: kilobits (1,000 bits) a second.
  explicit RateLimiter(uint64_t kbps)
      : bucket_(std::max<uint64_t>(kbps * 125, 1), BurstFor(kbps),
                TokenBucket::SteadyClock::now()),
        piece_(std::clamp<uint64_t>(kbps * 125 / 20, 1024, 64 * 1024)) {}
  // Waits until `bytes` may go (false: cancelled).
  bool Acquire(uint64_t bytes) {
    std::unique_lock lock(mutex_);
    const auto wait = bucket_.Take(bytes, TokenBucket::SteadyClock::now());
    if (wait.count() == 0) return !cancelled_;
    return !cancelled_wake_.wait_for(lock, wait, [&] { return cancelled_; });
  }
  void Cancel() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    cancelled_wake_.notify_all();
  }
  // What a writer sends between takes (about a twentieth of a second's
  // worth): short sleeps, smooth traffic.
  uint64_t piece_bytes() const { return piece_; }

 private:
  static uint64_t BurstFor(uint64_t kbps) {
    return std::max<uint64_t>(kbps * 125 / 10, 16 * 1024);  // 100 ms
  }
  std::mutex mutex_;
  std::condition_variable cancelled_wake_;
  bool cancelled_ = false;
  TokenBucket bucket_;
  uint64_t piece_;
};

}  // namespace dfs::dfsrd
