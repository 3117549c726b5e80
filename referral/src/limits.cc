#include "dfs/referral/limits.h"

#include <algorithm>

namespace dfs::referral {

ConnectionLimits DeriveConnectionLimits(size_t requested_total,
                                        size_t requested_per_address,
                                        uint64_t nofile_soft_limit) {
  ConnectionLimits limits;
  const uint64_t available = nofile_soft_limit > kReservedDescriptors
                                 ? nofile_soft_limit - kReservedDescriptors
                                 : std::max<uint64_t>(1, nofile_soft_limit / 2);
  const size_t wanted =
      requested_total != 0 ? requested_total : kDefaultMaxConnections;
  limits.total = static_cast<size_t>(std::min<uint64_t>(wanted, available));
  limits.total = std::max<size_t>(limits.total, 1);
  limits.capped = requested_total != 0 && limits.total < requested_total;
  limits.per_address =
      requested_per_address != 0
          ? requested_per_address
          : std::max(kMinConnectionsPerAddress, limits.total / 4);
  limits.per_address = std::min(limits.per_address, limits.total);
  return limits;
}

}  // namespace dfs::referral
