// What a running mount counts, for `--metrics HOST:PORT` (Prometheus text):
// the active target per cached folder, failovers and failbacks, target
// and namespace-server failures, and per operation on a target its count
// by outcome (ok, error, timeout, refused) and its latency.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dfs/client/client.h"
#include "dfs/client_net/deadline_pool.h"

namespace dfs::tools {

enum class TargetOp : uint8_t { kGetattr, kReaddir, kOpen, kRead, kCount };
std::string_view TargetOpName(TargetOp op);

class MountMetrics {
 public:
  static constexpr std::array<double, 10> kLatencyBuckets = {
      1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1.0};

  // `error` is whether a completed call returned an error.
  void Observe(TargetOp op, std::chrono::nanoseconds took,
               client_net::CallOutcome outcome, bool error);
  void Count(client::ClientEventKind kind);
  void ReadContinued() { ++reads_continued_; }
  void ReadRefusedDiffers() { ++reads_refused_differs_; }

  std::string Render(const std::vector<client::CacheEntryView>& entries,
                     size_t helper_threads) const;

 private:
  static constexpr size_t kOps = static_cast<size_t>(TargetOp::kCount);
  static constexpr size_t kEvents = 5;
  struct PerOp {
    std::atomic<uint64_t> ok{0}, error{0}, timeout{0}, refused{0};
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets{};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<PerOp, kOps> ops_;
  std::array<std::atomic<uint64_t>, kEvents> events_{};
  std::atomic<uint64_t> reads_continued_{0}, reads_refused_differs_{0};
};

}  // namespace dfs::tools
