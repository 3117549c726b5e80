// How many client connections dfsd holds at once, derived from the
// descriptors the process may open (RLIMIT_NOFILE), so that running out of
// descriptors is a refusal at accept time, not an error loop; and how many
// of them one client address may hold, so that one address cannot take
// every slot; and the rules the listener applies with them (who is
// admitted, how often refusals are logged, how long an idle connection
// lives). Pure: time is passed in, so the rules are tested without it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace dfs::referral {

// Descriptors kept for everything but client connections: the store,
// listeners, the metrics endpoint, probes, the replica's link, admin work.
inline constexpr uint64_t kReservedDescriptors = 64;
inline constexpr size_t kDefaultMaxConnections = 4096;
inline constexpr size_t kMinConnectionsPerAddress = 8;

struct ConnectionLimits {
  size_t total = 0;
  size_t per_address = 0;
  bool capped = false;  // `requested_total` was above what the limit allows
};

// `requested_total` / `requested_per_address`: 0 derives them. The total
// is at most `nofile_soft_limit - kReservedDescriptors` (at least 1); the
// per-address default is a quarter of the total, at least
// kMinConnectionsPerAddress (never above the total).
ConnectionLimits DeriveConnectionLimits(size_t requested_total,
                                        size_t requested_per_address,
                                        uint64_t nofile_soft_limit);

enum class Refusal { kTotal, kPerAddress, kDescriptors };

// Whether a new connection is admitted: nothing when it is, else why not.
// `open`: connections open now; `from_address`: those of its address.
inline std::optional<Refusal> Admit(const ConnectionLimits& limits, size_t open,
                                    size_t from_address) {
  if (open >= limits.total) return Refusal::kTotal;
  if (from_address >= limits.per_address) return Refusal::kPerAddress;
  return std::nullopt;
}

// Refusals counted, and said at most once an interval (a flood of
// connections cannot become a flood of log lines).
class RefusalLog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kInterval = std::chrono::seconds(10);
  using Counts = std::array<uint64_t, 3>;  // by Refusal

  // Counts `why`; the counts to log now (then starts counting again), or
  // nothing when the last line was less than kInterval ago.
  std::optional<Counts> Note(Refusal why, Clock::time_point now) {
    ++counts_[static_cast<size_t>(why)];
    if (logged_once_ && now - logged_at_ < kInterval) return std::nullopt;
    Counts out = counts_;
    counts_ = {};
    logged_at_ = now;
    logged_once_ = true;
    return out;
  }

 private:
  Counts counts_{};
  Clock::time_point logged_at_{};
  bool logged_once_ = false;
};

// An idle connection's deadline: only whole frames buy more time, so a
// peer trickling one frame a byte at a time still meets the deadline it
// started with.
class IdleDeadline {
 public:
  using Clock = std::chrono::steady_clock;
  IdleDeadline(Clock::duration timeout, Clock::time_point now)
      : timeout_(timeout), deadline_(now + timeout) {}
  // Bytes arrived; `whole_frames` of them completed frames.
  void OnRead(size_t whole_frames, Clock::time_point now) {
    if (whole_frames > 0) deadline_ = now + timeout_;
  }
  Clock::time_point deadline() const { return deadline_; }
  bool Expired(Clock::time_point now) const { return now >= deadline_; }

 private:
  Clock::duration timeout_;
  Clock::time_point deadline_;
};

}  // namespace dfs::referral
