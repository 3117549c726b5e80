// How many client connections dfsd holds at once, derived from the
// descriptors the process may open (RLIMIT_NOFILE), so that running out of
// descriptors is a refusal at accept time, not an error loop; and how many
// of them one client address may hold, so that one address cannot take
// every slot. Pure.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace dfs::referral
