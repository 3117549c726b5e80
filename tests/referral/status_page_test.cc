// The status page's routes and JSON, without sockets.
#include "dfs/referral/status_page.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dfs/ns/admin.h"

namespace dfs::referral {
namespace {

StatusSources Fixed() {
  return {[] { return std::string("{\"ns\":1}"); },
          [] { return std::string("{\"health\":1}"); },
          [] { return std::string("{\"referrals\":1}"); },
          [] { return std::string("{\"replication\":1}"); }};
}

TEST(StatusPageTest, RoutesThePageAndItsApiAndDeclinesTheRest) {
  auto page =
      StatusHttpResponse("GET /?refresh=500 HTTP/1.1\r\n\r\n", Fixed(), true);
  ASSERT_TRUE(page.has_value());
  EXPECT_NE(page->find("200 OK"), std::string::npos);
  EXPECT_NE(page->find("<title>dfsd status</title>"), std::string::npos);
  auto ns =
      StatusHttpResponse("GET /api/namespace HTTP/1.1\r\n\r\n", Fixed(), true);
  ASSERT_TRUE(ns.has_value());
  EXPECT_NE(ns->find("application/json"), std::string::npos);
  EXPECT_NE(ns->find("{\"ns\":1}"), std::string::npos);
  auto replication = StatusHttpResponse("GET /api/replication HTTP/1.1\r\n\r\n",
                                        Fixed(), true);
  ASSERT_TRUE(replication.has_value());
  EXPECT_NE(replication->find("{\"replication\":1}"), std::string::npos);
  EXPECT_FALSE(
      StatusHttpResponse("GET /metrics HTTP/1.1\r\n\r\n", Fixed(), true));
  EXPECT_FALSE(StatusHttpResponse("POST /api/namespace HTTP/1.1\r\n\r\n",
                                  Fixed(), true));
}

TEST(StatusPageTest, OffTheLoopbackThePageIsOff) {
  auto refused = StatusHttpResponse("GET /api/namespace HTTP/1.1\r\n\r\n",
                                    Fixed(), /*allowed=*/false);
  ASSERT_TRUE(refused.has_value());
  EXPECT_NE(refused->find("403 Forbidden"), std::string::npos);
  EXPECT_EQ(refused->find("{\"ns\":1}"), std::string::npos);
}

TEST(StatusPageTest, TheNamespaceJsonHasTargetsInReferralOrderWithHealth) {
  ns::NamespaceIndex index;
  ASSERT_TRUE(ns::AddRoot(index, "\\\\contoso\\webfarm").ok());
  ns::TargetOptions last;
  last.priority_class = ns::PriorityClass::kGlobalLow;
  ASSERT_TRUE(ns::AddLink(index, "\\\\contoso\\webfarm\\Site1",
                          "\\\\web2\\c\\Site1", last)
                  .ok());
  ASSERT_TRUE(
      ns::AddTarget(index, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c\\Site1")
          .ok());
  HealthTable health;
  health.Record("web2", false);
  SiteTable sites;
  auto j = nlohmann::json::parse(NamespaceJson(index, sites, health));
  const auto& targets = j["roots"][0]["folders"][0]["targets"];
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0]["unc"], "\\\\web1\\c\\Site1");
  EXPECT_EQ(targets[0]["health"], "unprobed");
  EXPECT_EQ(targets[1]["unc"], "\\\\web2\\c\\Site1");
  EXPECT_EQ(targets[1]["health"], "down");
}

}  // namespace
}  // namespace dfs::referral
