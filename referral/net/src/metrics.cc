#include "metrics.h"

#include <sstream>

namespace dfs::referral_net {

void Metrics::ObserveLatency(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  latency_sum_seconds += s;
  size_t i = 0;
  while (i < kLatencyBuckets.size() && s > kLatencyBuckets[i]) ++i;
  ++latency_counts[i];
}

std::string Metrics::Render() const {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, const char* labels,
                     uint64_t v) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << labels << " " << v << "\n";
  };
  o << "# HELP dfs_referrals_total Referral requests answered, by result.\n"
       "# TYPE dfs_referrals_total counter\n"
    << "dfs_referrals_total{result=\"ok\"} " << referrals_ok << "\n"
    << "dfs_referrals_total{result=\"not_found\"} " << referrals_not_found
    << "\n"
    << "dfs_referrals_total{result=\"bad_request\"} " << referrals_bad_request
    << "\n"
    << "dfs_referrals_total{result=\"unsupported\"} " << referrals_unsupported
    << "\n";
  o << "# HELP dfs_referral_latency_seconds Time to answer one referral "
       "request in the server.\n"
       "# TYPE dfs_referral_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += latency_counts[i];
    o << "dfs_referral_latency_seconds_bucket{le=\"" << kLatencyBuckets[i]
      << "\"} " << cumulative << "\n";
  }
  cumulative += latency_counts.back();
  o << "dfs_referral_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
    << "dfs_referral_latency_seconds_sum " << latency_sum_seconds << "\n"
    << "dfs_referral_latency_seconds_count " << cumulative << "\n";
  counter("dfs_namespace_refreshes_total",
          "Namespace changes picked up from the store.", "", refreshes);
  counter("dfs_namespace_reloads_total", "Full namespace reloads.", "",
          reloads);
  counter("dfs_namespace_refresh_errors_total", "Failed store refreshes.", "",
          refresh_errors);
  o << "# HELP dfs_namespace_serial Serial of the namespace being served.\n"
       "# TYPE dfs_namespace_serial gauge\ndfs_namespace_serial "
    << namespace_serial << "\n";
  o << "# HELP dfs_probes_total Target health probes, by result.\n"
       "# TYPE dfs_probes_total counter\n"
    << "dfs_probes_total{result=\"up\"} " << probes_up << "\n"
    << "dfs_probes_total{result=\"down\"} " << probes_down << "\n";
  o << "# HELP dfs_target_servers_down Target servers the last probe found "
       "down.\n"
       "# TYPE dfs_target_servers_down gauge\ndfs_target_servers_down "
    << servers_down << "\n";
  o << "# HELP dfs_connections_open Open client connections.\n"
       "# TYPE dfs_connections_open gauge\ndfs_connections_open "
    << connections_open << "\n";
  counter("dfs_connections_total", "Client connections accepted.", "",
          connections_total);
  counter("dfs_connections_rejected_total",
          "Connections refused over the limit.", "", connections_rejected);
  counter("dfs_malformed_frames_total",
          "Connections closed for a malformed frame.", "", malformed_frames);
  counter("dfs_idle_closed_total", "Connections closed for idling.", "",
          idle_closed);
  return o.str();
}

}  // namespace dfs::referral_net
