#include "dfs/referral/resolver.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"

namespace dfs::referral {
namespace {

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns::AddRoot(index_, "\\\\contoso\\webfarm").ok());
    ASSERT_TRUE(
        ns::AddTarget(index_, "\\\\contoso\\webfarm", "\\\\ns1\\webfarm").ok());
    ns::TargetOptions first, last;
    first.priority_class = ns::PriorityClass::kGlobalHigh;
    last.priority_class = ns::PriorityClass::kGlobalLow;
    ASSERT_TRUE(ns::AddLink(index_, "\\\\contoso\\webfarm\\Site1",
                            "\\\\web2\\content\\Site1", last)
                    .ok());
    ASSERT_TRUE(ns::AddTarget(index_, "\\\\contoso\\webfarm\\Site1",
                              "\\\\web1\\content\\Site1", first)
                    .ok());
    ASSERT_TRUE(ns::SetTtl(index_, "\\\\contoso\\webfarm\\Site1", 60).ok());
    ASSERT_TRUE(
        ns::AddLink(index_, "\\\\contoso\\webfarm\\Café\\Ünï", "\\\\web3\\c")
            .ok());
  }
  Result<Referral> Resolve(std::string_view path) {
    Resolver resolver(index_, sites_, nullptr, 1);
    return resolver.Resolve(path, Requester{});
  }
  ns::NamespaceIndex index_;
  SiteTable sites_;
};

TEST_F(ResolverTest, FolderReferralOrdersTargetsWithTtlAndFailback) {
  auto r = Resolve("\\contoso\\webfarm\\Site1\\index.html");
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_FALSE(r->root_referral);
  EXPECT_EQ(r->dfs_path, "\\contoso\\webfarm\\Site1");
  EXPECT_EQ(r->path_consumed_bytes,
            2 * std::string("\\contoso\\webfarm\\Site1").size());
  EXPECT_EQ(r->ttl_seconds, 60u);
  EXPECT_FALSE(r->failback);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].path, "\\web1\\content\\Site1");
  EXPECT_EQ(r->targets[1].path, "\\web2\\content\\Site1");
  ASSERT_TRUE(
      ns::SetFailback(index_, "\\\\contoso\\webfarm", ns::Failback::kOn).ok());
  EXPECT_TRUE(Resolve("\\contoso\\webfarm\\Site1")->failback);
  ASSERT_TRUE(
      ns::SetFailback(index_, "\\\\contoso\\webfarm\\Site1", ns::Failback::kOff)
          .ok());
  EXPECT_FALSE(Resolve("\\contoso\\webfarm\\Site1")->failback);
}

TEST_F(ResolverTest, RootReferralListsNamespaceServers) {
  auto r = Resolve("\\CONTOSO\\WebFarm\\NotAFolder\\x");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->root_referral);
  EXPECT_EQ(r->ttl_seconds, 300u);
  EXPECT_EQ(r->dfs_path, "\\CONTOSO\\WebFarm");
  EXPECT_EQ(r->path_consumed_bytes,
            2 * std::string("\\CONTOSO\\WebFarm").size());
  ASSERT_EQ(r->targets.size(), 1u);
  EXPECT_EQ(r->targets[0].path, "\\ns1\\webfarm");
}

TEST_F(ResolverTest, PathConsumedCountsTheClientsOwnUtf16) {
  // Repeated separators and slashes are the client's characters too.
  const std::string path = "/contoso//webfarm/café/ÜNÏ/file";
  auto r = Resolve(path);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->dfs_path, "\\contoso\\webfarm\\café\\ÜNÏ");
  // "/contoso//webfarm/café/ÜNÏ" is 26 characters, each one UTF-16 unit.
  EXPECT_EQ(r->path_consumed_bytes, 2 * 26);
  // UNC form works too, and consumes its two leading separators.
  EXPECT_EQ(Resolve("\\\\contoso\\webfarm\\Site1")->path_consumed_bytes,
            2 * 23);
}

TEST_F(ResolverTest, OfflineAndMissingAreNotFound) {
  EXPECT_EQ(Resolve("\\fabrikam\\x").error().code,
            make_error_code(Errc::kNotFound));
  ASSERT_TRUE(ns::SetState(index_, "\\\\contoso\\webfarm\\Site1", std::nullopt,
                           ns::State::kOffline)
                  .ok());
  EXPECT_EQ(Resolve("\\contoso\\webfarm\\Site1").error().code,
            make_error_code(Errc::kNotFound));
  ASSERT_TRUE(ns::SetState(index_, "\\\\contoso\\webfarm", std::nullopt,
                           ns::State::kOffline)
                  .ok());
  EXPECT_EQ(Resolve("\\contoso\\webfarm").error().code,
            make_error_code(Errc::kNotFound));
  EXPECT_EQ(Resolve("\\fab rikam.\\x").error().code,
            make_error_code(Errc::kInvalidArgument));  // a bad host name
}

// Issue 12 (MS-DFSC): a folder whose targets are all offline is answered
// with success and zero referrals, not STATUS_NOT_FOUND.
TEST_F(ResolverTest, Issue12AllTargetsOfflineIsZeroReferrals) {
  ASSERT_TRUE(ns::SetState(index_, "\\\\contoso\\webfarm\\Site1",
                           std::string_view("\\\\web1\\content\\Site1"),
                           ns::State::kOffline)
                  .ok());
  ASSERT_TRUE(ns::SetState(index_, "\\\\contoso\\webfarm\\Site1",
                           std::string_view("\\\\web2\\content\\Site1"),
                           ns::State::kOffline)
                  .ok());
  auto r = Resolve("\\contoso\\webfarm\\Site1");
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_TRUE(r->targets.empty());
  EXPECT_EQ(r->dfs_path, "\\contoso\\webfarm\\Site1");
}

// Issue 12: the part of the path after the folder is the target server's
// business: names ending in '.' or a space, long non-ASCII names and
// paths of exactly 4,096 UTF-16 units are referred, not refused.
TEST_F(ResolverTest, Issue12TheRemainderIsNeverRefused) {
  std::string cjk;
  for (int i = 0; i < 86; ++i) cjk += "\xe6\xbc\xa2";  // 86 units, 258 bytes
  for (const std::string& rest :
       {cjk, std::string("name."), std::string("name "), std::string(".."),
        std::string(300, 'a') + "\\b"}) {
    auto r = Resolve("\\contoso\\webfarm\\Site1\\" + rest);
    ASSERT_TRUE(r) << rest.substr(0, 20) << ": " << r.error().Message();
    EXPECT_EQ(r->dfs_path, "\\contoso\\webfarm\\Site1");
    EXPECT_EQ(r->path_consumed_bytes, 2 * 22);
  }
  // Exactly 4,096 units (the request limit) in a path of a folder.
  std::string path = "\\contoso\\webfarm\\Site1";
  while (path.size() + 200 < 4096) path += "\\" + std::string(199, 'x');
  path += "\\" + std::string(4096 - path.size() - 1, 'y');
  ASSERT_EQ(path.size(), 4096u);
  auto r = Resolve(path);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->dfs_path, "\\contoso\\webfarm\\Site1");
  // A component of 255 CJK characters names a folder (765 bytes).
  std::string long_name;
  for (int i = 0; i < 255; ++i) long_name += "\xe6\xbc\xa2";
  ASSERT_TRUE(
      ns::AddLink(index_, "\\\\contoso\\webfarm\\" + long_name, "\\\\web9\\c")
          .ok());
  auto named = Resolve("\\contoso\\webfarm\\" + long_name + "\\x");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->dfs_path, "\\contoso\\webfarm\\" + long_name);
}

// Issue 12: a folder whose targets are namespace roots (an interlink) is
// flagged as pointing at referral servers.
TEST_F(ResolverTest, Issue12AnInterlinkSaysReferralServers) {
  ASSERT_TRUE(ns::AddRoot(index_, "\\\\contoso\\other").ok());
  ASSERT_TRUE(
      ns::AddLink(index_, "\\\\contoso\\webfarm\\Jump", "\\\\contoso\\other")
          .ok());
  auto r = Resolve("\\contoso\\webfarm\\Jump\\x");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->interlink);
  EXPECT_FALSE(Resolve("\\contoso\\webfarm\\Site1")->interlink);
}

TEST_F(ResolverTest, ClientAddressPicksTheSite) {
  ASSERT_TRUE(sites_.AddSubnet("10.2.0.0/16", "Dallas").ok());
  ASSERT_TRUE(
      ns::AddLink(index_, "\\\\contoso\\webfarm\\Geo", "\\\\lon\\c").ok());
  ASSERT_TRUE(
      ns::AddTarget(index_, "\\\\contoso\\webfarm\\Geo", "\\\\dal\\c").ok());
  ASSERT_TRUE(
      ns::SetSite(index_, "\\\\contoso\\webfarm\\Geo", "\\\\lon\\c", "London")
          .ok());
  ASSERT_TRUE(
      ns::SetSite(index_, "\\\\contoso\\webfarm\\Geo", "\\\\dal\\c", "Dallas")
          .ok());
  Resolver resolver(index_, sites_, nullptr, 3);
  for (int i = 0; i < 20; ++i) {
    auto r = resolver.Resolve("\\contoso\\webfarm\\Geo",
                              Requester{*IpAddress::Parse("10.2.3.4")});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->targets[0].path, "\\dal\\c");
  }
}

}  // namespace
}  // namespace dfs::referral
