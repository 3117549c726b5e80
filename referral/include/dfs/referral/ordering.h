// Referral ordering: the order in which a client is told to try a
// folder's (or root's) targets. Pure: the site table, the health view and
// the random source are passed in.
//
// Rules (MS-DFSNM priority classes, DFS Management's ordering methods):
//  - offline targets (admin state) are never returned;
//  - inSiteOnly keeps only targets in the client's site, unless none is;
//  - globalHigh targets lead, globalLow targets trail; in between, targets
//    are grouped by site cost (lowestCost: from the site table; random and
//    inSiteOnly: 0 in the client's site, 1 elsewhere), and within a cost by
//    siteCostHigh, siteCostNormal, siteCostLow;
//  - within a group, lower priority rank first; equal ranks are shuffled
//    for load balancing;
//  - targets the health probe reports down move behind every healthy one,
//    keeping their relative order.
// Each target that starts a new group starts a new "target set" (the V4
// TargetSetBoundary flag).
// Thread-safety: pure function.
#pragma once

#include <functional>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "dfs/ns/model.h"
#include "dfs/referral/sites.h"

namespace dfs::referral {

struct OrderedTarget {
  const ns::Target* target = nullptr;
  bool set_boundary = false;  // first of its target set
  bool healthy = true;
};

using HealthFn = std::function<bool(const ns::Target&)>;

std::vector<OrderedTarget> OrderTargets(
    const std::vector<ns::Target>& targets, ns::OrderingMethod method,
    std::optional<std::string_view> client_site, const SiteTable& sites,
    const HealthFn& healthy, std::mt19937_64& rng);

// The order a client in the default site (none known) is given, with equal
// ranks shuffled by a seed taken from `key` (a folder's): stable, so what
// shows it (a Samba msdfs link, the status page) changes only when the
// namespace or health does.
std::vector<OrderedTarget> DefaultSiteOrder(
    const std::vector<ns::Target>& targets, ns::OrderingMethod method,
    const SiteTable& sites, const HealthFn& healthy, std::string_view key);

}  // namespace dfs::referral
