#include "dfs/referral/ordering.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "testing/random_namespace.h"

namespace dfs::referral {
namespace {

using ns::PriorityClass;

ns::Target T(std::string server,
             PriorityClass c = PriorityClass::kSiteCostNormal, uint8_t rank = 0,
             std::string site = "") {
  ns::Target t;
  t.server = std::move(server);
  t.share = "content";
  t.priority_class = c;
  t.priority_rank = rank;
  t.site = std::move(site);
  return t;
}

std::vector<std::string> Servers(const std::vector<OrderedTarget>& order) {
  std::vector<std::string> out;
  for (const auto& o : order) out.push_back(o.target->server);
  return out;
}

class OrderingTest : public ::testing::Test {
 protected:
  // Keeps the targets alive in the fixture: OrderedTarget points at them.
  std::vector<OrderedTarget> Order(
      std::vector<ns::Target> targets,
      ns::OrderingMethod method = ns::OrderingMethod::kLowestCost,
      std::optional<std::string_view> site = std::nullopt,
      HealthFn healthy = nullptr) {
    kept_.push_back(std::move(targets));
    return OrderTargets(kept_.back(), method, site, sites_, healthy, rng_);
  }
  std::deque<std::vector<ns::Target>> kept_;
  SiteTable sites_;
  std::mt19937_64 rng_{testing::TestSeed()};
};

TEST_F(OrderingTest, FirstLeadsAndLastTrails) {
  // Seed 003's farm: the primary "first among all targets", the backup
  // "last among all targets".
  auto order = Order({T("backup", PriorityClass::kGlobalLow), T("mid"),
                      T("primary", PriorityClass::kGlobalHigh)});
  EXPECT_EQ(Servers(order),
            (std::vector<std::string>{"primary", "mid", "backup"}));
  for (const auto& o : order) EXPECT_TRUE(o.set_boundary);
}

TEST_F(OrderingTest, SiteCostClassesOrderWithinACost) {
  auto order = Order({T("low", PriorityClass::kSiteCostLow), T("normal"),
                      T("high", PriorityClass::kSiteCostHigh)});
  EXPECT_EQ(Servers(order),
            (std::vector<std::string>{"high", "normal", "low"}));
}

TEST_F(OrderingTest, LowerRankFirstWithinAClass) {
  auto order = Order({T("r5", PriorityClass::kSiteCostNormal, 5), T("r0"),
                      T("r2", PriorityClass::kSiteCostNormal, 2)});
  EXPECT_EQ(Servers(order), (std::vector<std::string>{"r0", "r2", "r5"}));
}

TEST_F(OrderingTest, EqualTargetsAreShuffledEvenly) {
  std::vector<ns::Target> targets = {T("a"), T("b"), T("c"), T("d")};
  std::map<std::string, int> first;
  constexpr int kRuns = 8000;
  for (int i = 0; i < kRuns; ++i) {
    auto order = Order(targets);
    ++first[order[0].target->server];
    EXPECT_TRUE(order[0].set_boundary);
    for (size_t k = 1; k < order.size(); ++k)
      EXPECT_FALSE(order[k].set_boundary);
  }
  // Each of 4 should lead about 2000 times; 6 sigma is about +-230.
  for (const auto& [server, count] : first) {
    EXPECT_NEAR(count, kRuns / 4, 300) << server;
  }
  EXPECT_EQ(first.size(), 4u);
}

TEST_F(OrderingTest, SameSeedSameOrder) {
  std::vector<ns::Target> targets = {T("a"), T("b"), T("c"), T("d"), T("e")};
  std::mt19937_64 r1(7), r2(7);
  EXPECT_EQ(Servers(OrderTargets(targets, ns::OrderingMethod::kRandom,
                                 std::nullopt, sites_, nullptr, r1)),
            Servers(OrderTargets(targets, ns::OrderingMethod::kRandom,
                                 std::nullopt, sites_, nullptr, r2)));
}

TEST_F(OrderingTest, OfflineTargetsAreNeverReturned) {
  auto off = T("off", PriorityClass::kGlobalHigh);
  off.state = ns::State::kOffline;
  auto order = Order({off, T("on")});
  EXPECT_EQ(Servers(order), (std::vector<std::string>{"on"}));
  EXPECT_TRUE(Order({off}).empty());
}

TEST_F(OrderingTest, UnhealthyTargetsMoveBehindEveryHealthyOne) {
  auto healthy = [](const ns::Target& t) { return t.server != "primary"; };
  auto order = Order({T("primary", PriorityClass::kGlobalHigh), T("b"),
                      T("backup", PriorityClass::kGlobalLow)},
                     ns::OrderingMethod::kLowestCost, std::nullopt, healthy);
  EXPECT_EQ(Servers(order),
            (std::vector<std::string>{"b", "backup", "primary"}));
  EXPECT_FALSE(order[2].healthy);
  EXPECT_TRUE(order[2].set_boundary);
}

TEST_F(OrderingTest, LowestCostPutsTheClientsSiteFirst) {
  ASSERT_TRUE(sites_.SetCost("Dallas", "Austin", 5).ok());
  ASSERT_TRUE(sites_.SetCost("Dallas", "London", 50).ok());
  auto order = Order(
      {T("lon", PriorityClass::kSiteCostNormal, 0, "London"),
       T("aus", PriorityClass::kSiteCostNormal, 0, "Austin"),
       T("dal", PriorityClass::kSiteCostNormal, 0, "Dallas"), T("nosite")},
      ns::OrderingMethod::kLowestCost, "dallas");
  EXPECT_EQ(Servers(order),
            (std::vector<std::string>{"dal", "nosite", "aus", "lon"}));
  // globalHigh still beats the client's own site.
  auto order2 = Order({T("dal", PriorityClass::kSiteCostNormal, 0, "Dallas"),
                       T("lon", PriorityClass::kGlobalHigh, 0, "London")},
                      ns::OrderingMethod::kLowestCost, "Dallas");
  EXPECT_EQ(Servers(order2), (std::vector<std::string>{"lon", "dal"}));
}

TEST_F(OrderingTest, RandomOrderingStillPrefersTheClientsSite) {
  ASSERT_TRUE(sites_.SetCost("Dallas", "London", 50).ok());
  for (int i = 0; i < 50; ++i) {
    auto order = Order({T("lon1", PriorityClass::kSiteCostNormal, 0, "London"),
                        T("dal", PriorityClass::kSiteCostNormal, 0, "Dallas"),
                        T("lon2", PriorityClass::kSiteCostNormal, 0, "Austin")},
                       ns::OrderingMethod::kRandom, "Dallas");
    EXPECT_EQ(order[0].target->server, "dal");
  }
}

// Issue 12 (MS-DFSC 3.2.1.1): in-site-only removes out-of-site targets
// from the group ordered by site cost only; "first/last among all
// targets" stay, and with no target in the client's site the normal group
// is empty (no fallback to other sites).
TEST_F(OrderingTest, Issue12InSiteOnlyFiltersOnlyTheSiteCostGroup) {
  auto order = Order({T("lon", PriorityClass::kGlobalHigh, 0, "London"),
                      T("dal", PriorityClass::kSiteCostNormal, 0, "Dallas"),
                      T("par", PriorityClass::kSiteCostHigh, 0, "Paris"),
                      T("ber", PriorityClass::kGlobalLow, 0, "Berlin")},
                     ns::OrderingMethod::kInSiteOnly, "Dallas");
  EXPECT_EQ(Servers(order), (std::vector<std::string>{"lon", "dal", "ber"}));
  auto none = Order({T("lon", PriorityClass::kSiteCostNormal, 0, "London")},
                    ns::OrderingMethod::kInSiteOnly, "Dallas");
  EXPECT_TRUE(Servers(none).empty());
}

TEST(SiteTableTest, LongestSubnetWins) {
  SiteTable sites;
  ASSERT_TRUE(sites.AddSubnet("10.0.0.0/8", "Corp").ok());
  ASSERT_TRUE(sites.AddSubnet("10.1.0.0/16", "Dallas").ok());
  ASSERT_TRUE(sites.AddSubnet("2001:db8::/32", "V6").ok());
  EXPECT_EQ(sites.SiteOf(*IpAddress::Parse("10.1.2.3")), "Dallas");
  EXPECT_EQ(sites.SiteOf(*IpAddress::Parse("10.9.2.3")), "Corp");
  EXPECT_EQ(sites.SiteOf(*IpAddress::Parse("2001:db8::1")), "V6");
  EXPECT_EQ(sites.SiteOf(*IpAddress::Parse("127.0.0.1")), std::nullopt);
  EXPECT_FALSE(sites.AddSubnet("10.0.0.0", "X").ok());
  EXPECT_FALSE(sites.AddSubnet("10.0.0.0/33", "X").ok());
  EXPECT_FALSE(sites.AddSubnet("banana/8", "X").ok());
  EXPECT_FALSE(IpAddress::Parse("10.0.0.256").has_value());
  EXPECT_EQ(sites.Cost("Dallas", "dallas"), 0u);
  EXPECT_EQ(sites.Cost("Dallas", "Corp"), 1u);
  EXPECT_EQ(sites.Cost(std::nullopt, "Corp"), 1u);
}

}  // namespace
}  // namespace dfs::referral
