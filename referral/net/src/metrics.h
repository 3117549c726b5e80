// dfsd's counters and their Prometheus text rendering.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

namespace dfs::referral_net {

struct Metrics {
  static constexpr std::array<double, 11> kLatencyBuckets = {
      1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2};

  uint64_t referrals_ok = 0, referrals_not_found = 0, referrals_bad_request = 0,
           referrals_unsupported = 0;
  std::array<uint64_t, kLatencyBuckets.size() + 1> latency_counts{};
  double latency_sum_seconds = 0;
  uint64_t refreshes = 0, reloads = 0, refresh_errors = 0;
  uint64_t probes_up = 0, probes_down = 0;
  uint64_t servers_down = 0;
  uint64_t connections_open = 0, connections_total = 0,
           connections_rejected = 0, malformed_frames = 0, idle_closed = 0;
  uint64_t namespace_serial = 0;

  void ObserveLatency(std::chrono::nanoseconds d);
  std::string Render() const;
};

}  // namespace dfs::referral_net
