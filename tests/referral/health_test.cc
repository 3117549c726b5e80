#include "dfs/referral/health.h"

#include <gtest/gtest.h>

namespace dfs::referral {
namespace {

ns::Target On(const std::string& server) {
  ns::Target t;
  t.server = server;
  t.share = "content";
  return t;
}

TEST(HealthTableTest, TracksTransitionsCaseInsensitively) {
  HealthTable table;
  EXPECT_TRUE(table.Healthy(On("web1")));  // never probed: up
  EXPECT_EQ(table.Record("WEB1", true), HealthChange::kNone);
  EXPECT_EQ(table.Record("web2", false), HealthChange::kWentDown);
  EXPECT_EQ(table.DownCount(), 1u);
  EXPECT_FALSE(table.Healthy(On("Web2")));
  EXPECT_EQ(table.Record("web2", false), HealthChange::kNone);
  EXPECT_EQ(table.Record("web1", false), HealthChange::kWentDown);
  EXPECT_EQ(table.DownCount(), 2u);
  EXPECT_EQ(table.Record("WEB2", true), HealthChange::kCameUp);
  EXPECT_EQ(table.DownCount(), 1u);
  EXPECT_TRUE(table.Healthy(On("web2")));
  EXPECT_FALSE(table.Healthy(On("web1")));
  EXPECT_TRUE(table.Healthy(On("web3")));
}

}  // namespace
}  // namespace dfs::referral
