#include "mount_metrics.h"

#include "dfs/common/prometheus_text.h"

namespace dfs::tools {

std::string_view TargetOpName(TargetOp op) {
  switch (op) {
    case TargetOp::kGetattr:
      return "getattr";
    case TargetOp::kReaddir:
      return "readdir";
    case TargetOp::kOpen:
      return "open";
    case TargetOp::kRead:
      return "read";
    case TargetOp::kCount:
      break;
  }
  return "unknown";
}

void MountMetrics::Observe(TargetOp op, std::chrono::nanoseconds took,
                           client_net::CallOutcome outcome, bool error) {
  PerOp& p = ops_[static_cast<size_t>(op)];
  switch (outcome) {
    case client_net::CallOutcome::kDone:
      ++(error ? p.error : p.ok);
      break;
    case client_net::CallOutcome::kTimedOut:
      ++p.timeout;
      break;
    case client_net::CallOutcome::kRefused:
      ++p.refused;
      return;  // no call was made: no latency
  }
  const double s = std::chrono::duration<double>(took).count();
  size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  ++p.buckets[i];
  p.sum_ns += static_cast<uint64_t>(took.count());
}

void MountMetrics::Count(client::ClientEventKind kind) {
  const size_t i = static_cast<size_t>(kind);
  if (i < kEvents) ++events_[i];
}

std::string MountMetrics::Render(
    const std::vector<client::CacheEntryView>& entries,
    size_t helper_threads) const {
  PrometheusText o;
  o.Family("dfs_client_active_target", "gauge",
           "The target each cached referral uses now (1).");
  for (const auto& e : entries) {
    if (e.referral.targets.empty()) continue;
    o.Sample(
        "dfs_client_active_target",
        {{"prefix", e.referral.prefix},
         {"target", e.referral.ActiveTarget().unc},
         {"state", client::TargetStateName(e.referral.ActiveTarget().state)}},
        1);
  }
  o.Family("dfs_client_events_total", "counter",
           "Failovers, failbacks and failures seen.");
  for (size_t i = 0; i < kEvents; ++i) {
    o.Sample("dfs_client_events_total",
             {{"event", client::ClientEventName(
                            static_cast<client::ClientEventKind>(i))}},
             events_[i].load());
  }
  o.Family("dfs_client_read_failovers_total", "counter",
           "Reads that met a failed target mid-file: continued on an "
           "identical copy, or refused (EIO) because the copies differ.")
      .Sample("dfs_client_read_failovers_total", {{"result", "continued"}},
              reads_continued_.load())
      .Sample("dfs_client_read_failovers_total", {{"result", "copies_differ"}},
              reads_refused_differs_.load());
  o.Family("dfs_client_target_operations_total", "counter",
           "Operations on content targets by outcome.");
  for (size_t i = 0; i < kOps; ++i) {
    const auto name = TargetOpName(static_cast<TargetOp>(i));
    const PerOp& p = ops_[i];
    for (const auto& [result, value] :
         {std::pair<std::string_view, uint64_t>{"ok", p.ok.load()},
          {"error", p.error.load()},
          {"timeout", p.timeout.load()},
          {"refused", p.refused.load()}}) {
      o.Sample("dfs_client_target_operations_total",
               {{"op", name}, {"result", result}}, value);
    }
  }
  o.Family("dfs_client_target_operation_seconds", "histogram",
           "Time of operations on content targets (timeouts included).");
  for (size_t i = 0; i < kOps; ++i) {
    const PerOp& p = ops_[i];
    std::array<uint64_t, kLatencyBuckets.size() + 1> counts{};
    for (size_t b = 0; b < counts.size(); ++b) counts[b] = p.buckets[b].load();
    o.Histogram("dfs_client_target_operation_seconds",
                {{"op", TargetOpName(static_cast<TargetOp>(i))}},
                kLatencyBuckets, counts,
                static_cast<double>(p.sum_ns.load()) / 1e9);
  }
  o.Gauge("dfs_client_helper_threads",
          "Threads making calls on targets (stuck ones included).",
          helper_threads);
  return o.Take();
}

}  // namespace dfs::tools
