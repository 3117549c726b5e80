// dfsd's counters and their Prometheus text rendering.
//
// Thread-safety: the referral workers count into their own WorkerCounters
// (one writer each, so no counter's cache line moves between cores on the
// hot path); the connection counts are atomics (connections open and close
// on every thread); the rest is written and rendered on the io thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "dfs/ns/index.h"

namespace dfs::referral_net {

// A counter one thread adds to and any thread may read: a relaxed load and
// store, not a locked read-modify-write (only its owner writes it).
class OwnedCounter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n,
                 std::memory_order_relaxed);
  }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

inline constexpr std::array<double, 11> kLatencyBuckets = {
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2};

// Referrals answered per root or folder, for the status page: one worker
// adds (the path as the client spelled it: no folding on the hot path),
// the io thread reads. A lock only the two take (uncontended on the hot
// path); at most kMaxPaths entries, the rest counted as "(other)".
class PathCounts {
 public:
  static constexpr size_t kMaxPaths = 4096;
  void Add(std::string_view path);
  // Adds the counts to `into`, keyed `\\host\root[\folder]` folded.
  void MergeInto(std::map<std::string, uint64_t>& into) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint64_t, ns::StringHash, std::equal_to<>>
      counts_;
};

// What one referral worker counts. Aligned to a cache line of its own.
struct alignas(64) WorkerCounters {
  OwnedCounter referrals_ok, referrals_not_found, referrals_bad_request,
      referrals_unsupported;
  std::array<OwnedCounter, kLatencyBuckets.size() + 1> latency_counts;
  OwnedCounter latency_sum_ns;
  OwnedCounter malformed_frames, idle_closed;
  PathCounts paths;

  void ObserveLatency(std::chrono::nanoseconds d);
};

struct Metrics {
  // Written on the io thread.
  uint64_t refreshes = 0, reloads = 0, refresh_errors = 0;
  uint64_t probes_up = 0, probes_down = 0;
  uint64_t servers_down = 0;
  uint64_t connections_rejected = 0;
  uint64_t namespace_serial = 0;
  // Written wherever connections open and close.
  std::atomic<uint64_t> connections_open{0}, connections_total{0};
  // One per referral worker, added before the workers start (a deque:
  // adding never moves the others).
  std::deque<WorkerCounters> workers;

  std::string Render() const;
};

}  // namespace dfs::referral_net
