#include "dfs/ns/model.h"

#include <gtest/gtest.h>

namespace dfs::ns {
namespace {

TEST(ModelTest, PriorityClassSpellings) {
  EXPECT_EQ(*ParsePriorityClass("first"), PriorityClass::kGlobalHigh);
  EXPECT_EQ(*ParsePriorityClass("GlobalHigh"), PriorityClass::kGlobalHigh);
  EXPECT_EQ(*ParsePriorityClass("global-high"), PriorityClass::kGlobalHigh);
  EXPECT_EQ(*ParsePriorityClass("last"), PriorityClass::kGlobalLow);
  EXPECT_EQ(*ParsePriorityClass("globallow"), PriorityClass::kGlobalLow);
  EXPECT_EQ(*ParsePriorityClass("high"), PriorityClass::kSiteCostHigh);
  EXPECT_EQ(*ParsePriorityClass("siteCostLow"), PriorityClass::kSiteCostLow);
  EXPECT_EQ(*ParsePriorityClass("normal"), PriorityClass::kSiteCostNormal);
  EXPECT_FALSE(ParsePriorityClass("urgent").has_value());
  // MS-DFSNM's DFS_TARGET_PRIORITY_CLASS numbering.
  EXPECT_EQ(static_cast<int>(PriorityClass::kSiteCostNormal), 0);
  EXPECT_EQ(static_cast<int>(PriorityClass::kGlobalHigh), 1);
  EXPECT_EQ(static_cast<int>(PriorityClass::kSiteCostHigh), 2);
  EXPECT_EQ(static_cast<int>(PriorityClass::kSiteCostLow), 3);
  EXPECT_EQ(static_cast<int>(PriorityClass::kGlobalLow), 4);
}

TEST(ModelTest, EveryNameRoundTrips) {
  for (auto c : {PriorityClass::kGlobalHigh, PriorityClass::kSiteCostHigh,
                 PriorityClass::kSiteCostNormal, PriorityClass::kSiteCostLow,
                 PriorityClass::kGlobalLow}) {
    EXPECT_EQ(*ParsePriorityClass(ToString(c)), c);
  }
  for (auto m : {OrderingMethod::kLowestCost, OrderingMethod::kRandom,
                 OrderingMethod::kInSiteOnly}) {
    EXPECT_EQ(*ParseOrderingMethod(ToString(m)), m);
  }
  for (auto f : {Failback::kInherit, Failback::kOn, Failback::kOff}) {
    EXPECT_EQ(*ParseFailback(ToString(f)), f);
  }
  for (auto s : {State::kOnline, State::kOffline}) {
    EXPECT_EQ(*ParseState(ToString(s)), s);
  }
}

TEST(ModelTest, NumbersAreBounded) {
  EXPECT_EQ(*ParseTtl("60"), 60u);
  EXPECT_FALSE(ParseTtl("-1").has_value());
  EXPECT_FALSE(ParseTtl("12abc").has_value());
  EXPECT_FALSE(ParseTtl("").has_value());
  EXPECT_FALSE(ParseTtl("99999999999999999999").has_value());
  EXPECT_FALSE(ParseTtl(std::to_string(kMaxTtlSeconds + 1)).has_value());
  EXPECT_EQ(*ParsePriorityRank("31"), 31);
  EXPECT_FALSE(ParsePriorityRank("32").has_value());
}

TEST(ModelTest, DefaultsMatchWindows) {
  Root r;
  Folder f;
  EXPECT_EQ(r.ttl_seconds, 300u);
  EXPECT_EQ(f.ttl_seconds, 1800u);
  EXPECT_FALSE(r.failback);
  EXPECT_EQ(Target{}.priority_class, PriorityClass::kSiteCostNormal);
}

TEST(ModelTest, FolderFailbackInheritsFromRoot) {
  Root r;
  Folder f;
  EXPECT_FALSE(EffectiveFailback(r, f));
  r.failback = true;
  EXPECT_TRUE(EffectiveFailback(r, f));
  f.failback = Failback::kOff;
  EXPECT_FALSE(EffectiveFailback(r, f));
  r.failback = false;
  f.failback = Failback::kOn;
  EXPECT_TRUE(EffectiveFailback(r, f));
}

}  // namespace
}  // namespace dfs::ns
