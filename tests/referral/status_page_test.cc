// The status page's routes and JSON, without sockets.
#include "dfs/referral/status_page.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dfs/ns/admin.h"

namespace dfs::referral {
namespace {

StatusSources Fixed() {
  return {[](const NamespacePage& page) {
            return "{\"ns\":1,\"offset\":" + std::to_string(page.offset) +
                   ",\"limit\":" + std::to_string(page.limit) +
                   ",\"filter\":\"" + page.filter + "\"}";
          },
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
  EXPECT_NE(ns->find("{\"ns\":1,\"offset\":0,\"limit\":500,\"filter\":\"\"}"),
            std::string::npos);
  // The query picks the page.
  auto paged = StatusHttpResponse(
      "GET /api/namespace?offset=20&limit=10&filter=shop%207 HTTP/1.1\r\n\r\n",
      Fixed(), true);
  ASSERT_TRUE(paged.has_value());
  EXPECT_NE(paged->find("\"offset\":20,\"limit\":10,\"filter\":\"shop 7\""),
            std::string::npos)
      << *paged;
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
  EXPECT_EQ(refused->find("{\"ns\":1"), std::string::npos);
}

TEST(StatusPageTest, TheQueryIsReadWithinItsLimits) {
  const NamespacePage defaults = ParseNamespacePage("");
  EXPECT_EQ(defaults.offset, 0u);
  EXPECT_EQ(defaults.limit, 500u);
  EXPECT_TRUE(defaults.filter.empty());
  const NamespacePage p =
      ParseNamespacePage("limit=999999&offset=x&filter=Site%31+b%zz&other=1");
  EXPECT_EQ(p.limit, kMaxStatusPageFolders);
  EXPECT_EQ(p.offset, 0u);            // not a number: the default
  EXPECT_EQ(p.filter, "Site1 b%zz");  // a malformed escape stays
  EXPECT_EQ(ParseNamespacePage("limit=0").limit, 1u);
  EXPECT_EQ(
      ParseNamespacePage("filter=" + std::string(2000, 'a')).filter.size(),
      kMaxStatusFilterBytes);
}

TEST(StatusPageTest, ALargeNamespaceIsShownAPageAtATime) {
  ns::NamespaceIndex index;
  ASSERT_TRUE(ns::AddRoot(index, "\\\\contoso\\webfarm").ok());
  for (int i = 0; i < 1200; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(ns::AddLink(index, "\\\\contoso\\webfarm\\Site" + n,
                            "\\\\web1\\c\\Site" + n)
                    .ok());
  }
  HealthTable health;
  SiteTable sites;
  auto first = nlohmann::json::parse(NamespaceJson(index, sites, health));
  EXPECT_EQ(first["folder_count"], 1200);
  EXPECT_EQ(first["matched"], 1200);
  EXPECT_EQ(first["roots"][0]["folders"].size(), 500u);
  auto last = nlohmann::json::parse(NamespaceJson(
      index, sites, health, {.offset = 1000, .limit = 500, .filter = ""}));
  EXPECT_EQ(last["roots"][0]["folders"].size(), 200u);
  // The filter matches any case; it counts every match, shows the page.
  auto filtered = nlohmann::json::parse(NamespaceJson(
      index, sites, health, {.offset = 0, .limit = 5, .filter = "SITE11"}));
  // Site11, Site110..Site119, Site1100..Site1199: 1 + 10 + 100.
  EXPECT_EQ(filtered["matched"], 111);
  ASSERT_EQ(filtered["roots"][0]["folders"].size(), 5u);
  for (const auto& f : filtered["roots"][0]["folders"]) {
    EXPECT_NE(f["name"].get<std::string>().find("Site11"), std::string::npos);
  }
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
