#include "metrics.h"

#include "dfs/common/prometheus_text.h"
#include "dfs/ns/path.h"

namespace dfs::referral_net {

void PathCounts::Add(std::string_view path) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(path);
  if (it != counts_.end()) {
    ++it->second;
  } else if (counts_.size() < kMaxPaths) {
    counts_.emplace(std::string(path), 1);
  } else {
    ++counts_["(other)"];
  }
}

void PathCounts::MergeInto(std::map<std::string, uint64_t>& into) const {
  std::lock_guard lock(mutex_);
  for (const auto& [path, n] : counts_) {
    into[path == "(other)" ? path : "\\" + ns::FoldCase(path)] += n;
  }
}

void WorkerCounters::ObserveLatency(std::chrono::nanoseconds d) {
  latency_sum_ns.Add(static_cast<uint64_t>(d.count()));
  const double s = std::chrono::duration<double>(d).count();
  size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  latency_counts[i].Add();
}

std::string Metrics::Render() const {
  // The workers' counters, summed.
  uint64_t ok = 0, not_found = 0, bad_request = 0, unsupported = 0,
           malformed = 0, idle = 0, latency_ns = 0;
  std::array<uint64_t, kLatencyBuckets.size() + 1> latency{};
  for (const WorkerCounters& w : workers) {
    ok += w.referrals_ok.Get();
    not_found += w.referrals_not_found.Get();
    bad_request += w.referrals_bad_request.Get();
    unsupported += w.referrals_unsupported.Get();
    malformed += w.malformed_frames.Get();
    idle += w.idle_closed.Get();
    latency_ns += w.latency_sum_ns.Get();
    for (size_t i = 0; i < latency.size(); ++i)
      latency[i] += w.latency_counts[i].Get();
  }
  PrometheusText o;
  o.Family("dfs_referrals_total", "counter",
           "Referral requests answered, by result.")
      .Sample("dfs_referrals_total", {{"result", "ok"}}, ok)
      .Sample("dfs_referrals_total", {{"result", "not_found"}}, not_found)
      .Sample("dfs_referrals_total", {{"result", "bad_request"}}, bad_request)
      .Sample("dfs_referrals_total", {{"result", "unsupported"}}, unsupported);
  o.Family("dfs_referral_latency_seconds", "histogram",
           "Time to answer one referral request in the server.")
      .Histogram("dfs_referral_latency_seconds", {}, kLatencyBuckets, latency,
                 static_cast<double>(latency_ns) * 1e-9);
  o.Gauge("dfs_referral_workers", "Threads answering referrals.",
          workers.size());
  o.Counter("dfs_namespace_refreshes_total",
            "Namespace changes picked up from the store.", refreshes);
  o.Counter("dfs_namespace_reloads_total", "Full namespace reloads.", reloads);
  o.Counter("dfs_namespace_refresh_errors_total", "Failed store refreshes.",
            refresh_errors);
  o.Gauge("dfs_namespace_serial", "Serial of the namespace being served.",
          namespace_serial);
  o.Family("dfs_probes_total", "counter", "Target health probes, by result.")
      .Sample("dfs_probes_total", {{"result", "up"}}, probes_up)
      .Sample("dfs_probes_total", {{"result", "down"}}, probes_down);
  o.Gauge("dfs_target_servers_down",
          "Target servers the last probe found down.", servers_down);
  o.Gauge("dfs_connections_open", "Open client connections.",
          connections_open.load());
  o.Counter("dfs_connections_total", "Client connections accepted.",
            connections_total.load());
  o.Counter("dfs_connections_rejected_total",
            "Connections refused over the limit.", connections_rejected);
  o.Counter("dfs_malformed_frames_total",
            "Connections closed for a malformed frame.", malformed);
  o.Counter("dfs_idle_closed_total", "Connections closed for idling.", idle);
  return o.Take();
}

}  // namespace dfs::referral_net
