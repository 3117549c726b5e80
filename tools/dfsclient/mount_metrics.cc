#include "mount_metrics.h"

#include <sstream>

namespace dfs::tools {
namespace {

// Prometheus label values escape backslash, quote and newline.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

}  // namespace

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
  std::ostringstream o;
  o << "# HELP dfs_client_active_target The target each cached referral "
       "uses now (1).\n# TYPE dfs_client_active_target gauge\n";
  for (const auto& e : entries) {
    if (e.referral.targets.empty()) continue;
    o << "dfs_client_active_target{prefix=\"" << Label(e.referral.prefix)
      << "\",target=\"" << Label(e.referral.ActiveTarget().unc) << "\",state=\""
      << client::TargetStateName(e.referral.ActiveTarget().state) << "\"} 1\n";
  }
  o << "# HELP dfs_client_events_total Failovers, failbacks and failures "
       "seen.\n# TYPE dfs_client_events_total counter\n";
  for (size_t i = 0; i < kEvents; ++i) {
    o << "dfs_client_events_total{event=\""
      << client::ClientEventName(static_cast<client::ClientEventKind>(i))
      << "\"} " << events_[i].load() << "\n";
  }
  o << "# HELP dfs_client_read_failovers_total Reads that met a failed "
       "target mid-file: continued on an identical copy, or refused (EIO) "
       "because the copies differ.\n"
       "# TYPE dfs_client_read_failovers_total counter\n"
    << "dfs_client_read_failovers_total{result=\"continued\"} "
    << reads_continued_.load() << "\n"
    << "dfs_client_read_failovers_total{result=\"copies_differ\"} "
    << reads_refused_differs_.load() << "\n";
  o << "# HELP dfs_client_target_operations_total Operations on content "
       "targets by outcome.\n"
       "# TYPE dfs_client_target_operations_total counter\n";
  for (size_t i = 0; i < kOps; ++i) {
    const auto name = TargetOpName(static_cast<TargetOp>(i));
    const PerOp& p = ops_[i];
    o << "dfs_client_target_operations_total{op=\"" << name
      << "\",result=\"ok\"} " << p.ok.load() << "\n"
      << "dfs_client_target_operations_total{op=\"" << name
      << "\",result=\"error\"} " << p.error.load() << "\n"
      << "dfs_client_target_operations_total{op=\"" << name
      << "\",result=\"timeout\"} " << p.timeout.load() << "\n"
      << "dfs_client_target_operations_total{op=\"" << name
      << "\",result=\"refused\"} " << p.refused.load() << "\n";
  }
  o << "# HELP dfs_client_target_operation_seconds Time of operations on "
       "content targets (timeouts included).\n"
       "# TYPE dfs_client_target_operation_seconds histogram\n";
  for (size_t i = 0; i < kOps; ++i) {
    const auto name = TargetOpName(static_cast<TargetOp>(i));
    const PerOp& p = ops_[i];
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kLatencyBuckets.size(); ++b) {
      cumulative += p.buckets[b].load();
      o << "dfs_client_target_operation_seconds_bucket{op=\"" << name
        << "\",le=\"" << kLatencyBuckets[b] << "\"} " << cumulative << "\n";
    }
    cumulative += p.buckets.back().load();
    o << "dfs_client_target_operation_seconds_bucket{op=\"" << name
      << "\",le=\"+Inf\"} " << cumulative << "\n"
      << "dfs_client_target_operation_seconds_sum{op=\"" << name << "\"} "
      << static_cast<double>(p.sum_ns.load()) / 1e9 << "\n"
      << "dfs_client_target_operation_seconds_count{op=\"" << name << "\"} "
      << cumulative << "\n";
  }
  o << "# HELP dfs_client_helper_threads Threads making calls on targets "
       "(stuck ones included).\n# TYPE dfs_client_helper_threads gauge\n"
    << "dfs_client_helper_threads " << helper_threads << "\n";
  return o.str();
}

}  // namespace dfs::tools
