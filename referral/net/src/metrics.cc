#include "metrics.h"

#include "dfs/common/prometheus_text.h"

namespace dfs::referral_net {

void Metrics::ObserveLatency(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  latency_sum_seconds += s;
  size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  ++latency_counts[i];
}

std::string Metrics::Render() const {
  PrometheusText o;
  o.Family("dfs_referrals_total", "counter",
           "Referral requests answered, by result.")
      .Sample("dfs_referrals_total", {{"result", "ok"}}, referrals_ok)
      .Sample("dfs_referrals_total", {{"result", "not_found"}},
              referrals_not_found)
      .Sample("dfs_referrals_total", {{"result", "bad_request"}},
              referrals_bad_request)
      .Sample("dfs_referrals_total", {{"result", "unsupported"}},
              referrals_unsupported);
  o.Family("dfs_referral_latency_seconds", "histogram",
           "Time to answer one referral request in the server.")
      .Histogram("dfs_referral_latency_seconds", {}, kLatencyBuckets,
                 latency_counts, latency_sum_seconds);
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
  o.Gauge("dfs_connections_open", "Open client connections.", connections_open);
  o.Counter("dfs_connections_total", "Client connections accepted.",
            connections_total);
  o.Counter("dfs_connections_rejected_total",
            "Connections refused over the limit.", connections_rejected);
  o.Counter("dfs_malformed_frames_total",
            "Connections closed for a malformed frame.", malformed_frames);
  o.Counter("dfs_idle_closed_total", "Connections closed for idling.",
            idle_closed);
  return o.Take();
}

}  // namespace dfs::referral_net
