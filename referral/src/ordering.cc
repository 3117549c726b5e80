#include "dfs/referral/ordering.h"

#include <algorithm>
#include <tuple>

#include "dfs/ns/path.h"

namespace dfs::referral {
namespace {

struct Candidate {
  const ns::Target* target;
  int band;  // 0 globalHigh, 1 by site cost, 2 globalLow
  uint32_t cost;
  int within;  // 0 siteCostHigh, 1 normal, 2 siteCostLow
  uint8_t rank;
  uint64_t shuffle;
  bool healthy;

  auto Group() const { return std::tie(band, cost, within, rank); }
};

int Band(ns::PriorityClass c) {
  if (c == ns::PriorityClass::kGlobalHigh) return 0;
  if (c == ns::PriorityClass::kGlobalLow) return 2;
  return 1;
}

int Within(ns::PriorityClass c) {
  if (c == ns::PriorityClass::kSiteCostHigh) return 0;
  if (c == ns::PriorityClass::kSiteCostLow) return 2;
  return 1;
}

bool SameSite(std::optional<std::string_view> client, std::string_view site) {
  return client && !client->empty() && !site.empty() &&
         ns::FoldCase(*client) == ns::FoldCase(site);
}

}  // namespace

std::vector<OrderedTarget> OrderTargets(
    const std::vector<ns::Target>& targets, ns::OrderingMethod method,
    std::optional<std::string_view> client_site, const SiteTable& sites,
    const HealthFn& healthy, std::mt19937_64& rng) {
  std::vector<Candidate> candidates;
  candidates.reserve(targets.size());
  for (const auto& t : targets) {
    if (t.state != ns::State::kOnline) continue;
    const uint32_t cost = method == ns::OrderingMethod::kLowestCost
                              ? sites.Cost(client_site, t.site)
                              : (SameSite(client_site, t.site) ? 0 : 1);
    candidates.push_back({&t, Band(t.priority_class), cost,
                          Within(t.priority_class), t.priority_rank, rng(),
                          healthy ? healthy(t) : true});
  }
  if (method == ns::OrderingMethod::kInSiteOnly) {
    // MS-DFSC 3.2.1.1: targets outside the client's site leave the group
    // ordered by site cost; "first/last among all targets" stay wherever
    // they are. With nothing left, the referral has no entries.
    std::erase_if(candidates, [](const Candidate& c) {
      return c.band == 1 && c.cost != 0;
    });
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) {
              return std::tie(a.band, a.cost, a.within, a.rank, a.shuffle) <
                     std::tie(b.band, b.cost, b.within, b.rank, b.shuffle);
            });
  // Down targets go last; a client only reaches them when all else failed.
  std::stable_partition(candidates.begin(), candidates.end(),
                        [](const Candidate& c) { return c.healthy; });
  std::vector<OrderedTarget> out;
  out.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const bool boundary = i == 0 || c.healthy != candidates[i - 1].healthy ||
                          c.Group() != candidates[i - 1].Group();
    out.push_back({c.target, boundary, c.healthy});
  }
  return out;
}

std::vector<OrderedTarget> DefaultSiteOrder(
    const std::vector<ns::Target>& targets, ns::OrderingMethod method,
    const SiteTable& sites, const HealthFn& healthy, std::string_view key) {
  std::mt19937_64 rng(std::hash<std::string_view>{}(key));
  return OrderTargets(targets, method, std::nullopt, sites, healthy, rng);
}

}  // namespace dfs::referral
