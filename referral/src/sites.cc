#include "dfs/referral/sites.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dfs/common/error.h"
#include "dfs/ns/path.h"

namespace dfs::referral {
namespace {

std::string Fold(std::string_view site) { return ns::FoldCase(site); }

bool Matches(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b,
             int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask =
        bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text.substr(0, 64));
  IpAddress out;
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.bytes[10] = out.bytes[11] = 0xff;
    std::memcpy(&out.bytes[12], &v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.bytes.data(), &v6, 16);
    return out;
  }
  return Fail(Errc::kInvalidArgument, "'" + s + "' is not an IP address");
}

Result<SiteTable> SiteTable::FromNamespace(const ns::NamespaceReader& reader) {
  SiteTable table;
  DFS_ASSIGN_OR_RETURN(auto subnets, reader.ListSubnets());
  for (const auto& s : subnets)
    DFS_RETURN_IF_ERROR(table.AddSubnet(s.cidr, s.site));
  DFS_ASSIGN_OR_RETURN(auto costs, reader.ListSiteCosts());
  for (const auto& c : costs)
    DFS_RETURN_IF_ERROR(table.SetCost(c.site_a, c.site_b, c.cost));
  return table;
}

Status SiteTable::AddSubnet(std::string_view cidr, std::string_view site) {
  const size_t slash = cidr.find('/');
  if (slash == cidr.npos) {
    return Fail(Errc::kInvalidArgument,
                "subnet '" + std::string(cidr) + "' lacks a /prefix length");
  }
  DFS_ASSIGN_OR_RETURN(IpAddress address,
                       IpAddress::Parse(cidr.substr(0, slash)));
  std::string_view len = cidr.substr(slash + 1);
  int bits = -1;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
  const bool v4 = cidr.substr(0, slash).find(':') == cidr.npos;
  const int max = v4 ? 32 : 128;
  if (ec != std::errc() || ptr != len.data() + len.size() || bits < 0 ||
      bits > max) {
    return Fail(Errc::kInvalidArgument,
                "subnet '" + std::string(cidr) + "' has a bad prefix length");
  }
  if (site.empty()) return Fail(Errc::kInvalidArgument, "empty site name");
  Subnet subnet{address.bytes, v4 ? bits + 96 : bits, std::string(site)};
  subnets_.push_back(std::move(subnet));
  std::stable_sort(
      subnets_.begin(), subnets_.end(),
      [](const Subnet& a, const Subnet& b) { return a.bits > b.bits; });
  return Status::Ok();
}

Status SiteTable::SetCost(std::string_view a, std::string_view b,
                          uint32_t cost) {
  if (a.empty() || b.empty())
    return Fail(Errc::kInvalidArgument, "empty site name");
  costs_[{Fold(a), Fold(b)}] = cost;
  costs_[{Fold(b), Fold(a)}] = cost;
  return Status::Ok();
}

std::optional<std::string> SiteTable::SiteOf(const IpAddress& address) const {
  for (const auto& s : subnets_) {
    if (Matches(s.prefix, address.bytes, s.bits)) return s.site;
  }
  return std::nullopt;
}

uint32_t SiteTable::Cost(std::optional<std::string_view> client_site,
                         std::string_view target_site) const {
  if (!client_site || client_site->empty() || target_site.empty()) return 1;
  const std::string a = Fold(*client_site), b = Fold(target_site);
  if (a == b) return 0;
  auto it = costs_.find({a, b});
  return it == costs_.end() ? 1 : it->second;
}

}  // namespace dfs::referral
