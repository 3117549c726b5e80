// Sites: which site a client address is in (longest matching subnet) and
// what it costs to reach one site from another. Pure data, no I/O.
//
// Cost is 0 within a site, 1 between sites unless the cost table says
// otherwise, and 1 when either site is unknown: an unknown site is "some
// other site", never "here".
// Thread-safety: const methods may run concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/namespace.h"

namespace dfs::referral {

// An IPv4 or IPv6 address, IPv4 stored as IPv4-mapped IPv6.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  static Result<IpAddress> Parse(std::string_view text);
};

class SiteTable {
 public:
  // The subnets and costs configured in a namespace store.
  static Result<SiteTable> FromNamespace(const ns::NamespaceReader& reader);

  // `cidr` is "10.1.0.0/16" or "2001:db8::/32". Errors: kInvalidArgument.
  Status AddSubnet(std::string_view cidr, std::string_view site);
  Status SetCost(std::string_view site_a, std::string_view site_b,
                 uint32_t cost);

  // The site of the longest subnet containing `address`, if any.
  std::optional<std::string> SiteOf(const IpAddress& address) const;
  uint32_t Cost(std::optional<std::string_view> client_site,
                std::string_view target_site) const;
  bool empty() const { return subnets_.empty(); }

 private:
  struct Subnet {
    std::array<uint8_t, 16> prefix;
    int bits;  // over the 128-bit form
    std::string site;
  };
  std::vector<Subnet> subnets_;  // longest first
  std::map<std::pair<std::string, std::string>, uint32_t> costs_;
};

}  // namespace dfs::referral
