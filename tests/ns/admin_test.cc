#include "dfs/ns/admin.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/ns/index.h"

namespace dfs::ns {
namespace {

constexpr const char* kRoot = "\\\\contoso\\webfarm";
constexpr const char* kSite1 = "\\\\contoso\\webfarm\\Site1";
constexpr const char* kWeb1 = "\\\\web1\\content\\Site1";
constexpr const char* kWeb2 = "\\\\web2\\content\\Site1";

std::error_code Code(const Status& s) {
  return s.ok() ? std::error_code() : s.error().code;
}

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(AddRoot(ns_, kRoot).ok());
    ASSERT_TRUE(AddLink(ns_, kSite1, kWeb1).ok());
  }
  Folder Site1() { return *Locate(ns_, kSite1)->folder; }
  NamespaceIndex ns_;
};

TEST_F(AdminTest, RootsAreUniqueCaseInsensitively) {
  EXPECT_EQ(Code(AddRoot(ns_, "//CONTOSO/WebFarm")),
            make_error_code(Errc::kAlreadyExists));
  EXPECT_EQ(Code(AddRoot(ns_, "\\\\contoso\\webfarm\\Site1")),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_TRUE(AddRoot(ns_, "\\\\contoso\\other").ok());
  EXPECT_EQ(ns_.root_count(), 2u);
}

TEST_F(AdminTest, RootGetsWindowsDefaultsAndOptions) {
  RootOptions o;
  o.ttl_seconds = 60;
  o.comment = "farm";
  ASSERT_TRUE(AddRoot(ns_, "\\\\fabrikam\\web", o).ok());
  Root r = Locate(ns_, "\\\\fabrikam\\web")->root;
  EXPECT_EQ(r.ttl_seconds, 60u);
  EXPECT_EQ(r.comment, "farm");
  EXPECT_EQ(Locate(ns_, kRoot)->root.ttl_seconds, kDefaultRootTtlSeconds);
  EXPECT_EQ(Site1().ttl_seconds, kDefaultFolderTtlSeconds);
}

TEST_F(AdminTest, LinksNeedAnExistingRoot) {
  auto s = AddLink(ns_, "\\\\fabrikam\\webfarm\\Site1", kWeb1);
  EXPECT_EQ(Code(s), make_error_code(Errc::kNotFound));
  EXPECT_EQ(Code(AddLink(ns_, kRoot, kWeb1)),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(Code(AddLink(ns_, "\\\\contoso\\WEBFARM\\site1", kWeb2)),
            make_error_code(Errc::kAlreadyExists));
}

TEST_F(AdminTest, FoldersCannotNestEitherWay) {
  EXPECT_EQ(Code(AddLink(ns_, "\\\\contoso\\webfarm\\Site1\\Inner", kWeb2)),
            make_error_code(Errc::kConflict));
  ASSERT_TRUE(AddLink(ns_, "\\\\contoso\\webfarm\\Sites\\A\\B", kWeb2).ok());
  EXPECT_EQ(Code(AddLink(ns_, "\\\\contoso\\webfarm\\Sites", kWeb2)),
            make_error_code(Errc::kConflict));
  EXPECT_EQ(Code(AddLink(ns_, "\\\\contoso\\webfarm\\Sites\\A", kWeb2)),
            make_error_code(Errc::kConflict));
  EXPECT_TRUE(AddLink(ns_, "\\\\contoso\\webfarm\\Sites\\C", kWeb2).ok());
}

TEST_F(AdminTest, TargetsAreUniqueAndFoldersKeepOne) {
  EXPECT_EQ(Code(AddTarget(ns_, kSite1, "//WEB1/Content/site1")),
            make_error_code(Errc::kAlreadyExists));
  ASSERT_TRUE(AddTarget(ns_, kSite1, kWeb2).ok());
  EXPECT_EQ(Site1().targets.size(), 2u);
  ASSERT_TRUE(RemoveTarget(ns_, kSite1, "\\\\WEB1\\content\\site1").ok());
  ASSERT_EQ(Site1().targets.size(), 1u);
  EXPECT_EQ(Site1().targets[0].server, "web2");
  EXPECT_EQ(Code(RemoveTarget(ns_, kSite1, kWeb2)),
            make_error_code(Errc::kConflict));
  EXPECT_EQ(Code(RemoveTarget(ns_, kSite1, "\\\\nope\\x")),
            make_error_code(Errc::kNotFound));
}

TEST_F(AdminTest, RootTargetsAreNamespaceServers) {
  ASSERT_TRUE(AddTarget(ns_, kRoot, "\\\\ns1\\webfarm").ok());
  ASSERT_TRUE(AddTarget(ns_, kRoot, "\\\\ns2\\webfarm").ok());
  EXPECT_EQ(Locate(ns_, kRoot)->root.targets.size(), 2u);
  ASSERT_TRUE(RemoveTarget(ns_, kRoot, "\\\\ns1\\webfarm").ok());
  ASSERT_TRUE(RemoveTarget(ns_, kRoot, "\\\\ns2\\webfarm").ok());
  EXPECT_TRUE(Locate(ns_, kRoot)->root.targets.empty());
}

TEST_F(AdminTest, PriorityClassAndRankSetTheTarget) {
  ASSERT_TRUE(AddTarget(ns_, kSite1, kWeb2).ok());
  ASSERT_TRUE(
      SetPriority(ns_, kSite1, kWeb1, PriorityClass::kGlobalHigh, std::nullopt)
          .ok());
  ASSERT_TRUE(
      SetPriority(ns_, kSite1, kWeb2, PriorityClass::kGlobalLow, 7).ok());
  Folder f = Site1();
  EXPECT_EQ(f.targets[0].priority_class, PriorityClass::kGlobalHigh);
  EXPECT_EQ(f.targets[0].priority_rank, 0);
  EXPECT_EQ(f.targets[1].priority_class, PriorityClass::kGlobalLow);
  EXPECT_EQ(f.targets[1].priority_rank, 7);
  EXPECT_EQ(
      Code(SetPriority(ns_, kSite1, kWeb2, PriorityClass::kGlobalLow, 32)),
      make_error_code(Errc::kInvalidArgument));
  // Target options at creation time.
  TargetOptions o;
  o.priority_class = PriorityClass::kSiteCostHigh;
  o.priority_rank = 3;
  o.site = "Dallas";
  o.state = State::kOffline;
  ASSERT_TRUE(AddTarget(ns_, kSite1, "\\\\web3\\c", o).ok());
  Target t = Site1().targets[2];
  EXPECT_EQ(t.priority_class, PriorityClass::kSiteCostHigh);
  EXPECT_EQ(t.priority_rank, 3);
  EXPECT_EQ(t.site, "Dallas");
  EXPECT_EQ(t.state, State::kOffline);
}

TEST_F(AdminTest, StatesOfRootFolderAndTarget) {
  ASSERT_TRUE(SetState(ns_, kSite1, std::nullopt, State::kOffline).ok());
  EXPECT_EQ(Site1().state, State::kOffline);
  ASSERT_TRUE(
      SetState(ns_, kSite1, std::string_view(kWeb1), State::kOffline).ok());
  EXPECT_EQ(Site1().targets[0].state, State::kOffline);
  ASSERT_TRUE(SetState(ns_, kRoot, std::nullopt, State::kOffline).ok());
  EXPECT_EQ(Locate(ns_, kRoot)->root.state, State::kOffline);
}

TEST_F(AdminTest, TtlFailbackOrderingComment) {
  ASSERT_TRUE(SetTtl(ns_, kSite1, 60).ok());
  EXPECT_EQ(Site1().ttl_seconds, 60u);
  EXPECT_FALSE(SetTtl(ns_, kSite1, kMaxTtlSeconds + 1).ok());
  ASSERT_TRUE(SetFailback(ns_, kRoot, Failback::kOn).ok());
  EXPECT_TRUE(EffectiveFailback(Locate(ns_, kRoot)->root, Site1()));
  ASSERT_TRUE(SetFailback(ns_, kSite1, Failback::kOff).ok());
  EXPECT_FALSE(EffectiveFailback(Locate(ns_, kRoot)->root, Site1()));
  EXPECT_EQ(Code(SetFailback(ns_, kRoot, Failback::kInherit)),
            make_error_code(Errc::kInvalidArgument));
  ASSERT_TRUE(SetOrdering(ns_, kRoot, OrderingMethod::kInSiteOnly).ok());
  EXPECT_EQ(Locate(ns_, kRoot)->root.ordering, OrderingMethod::kInSiteOnly);
  EXPECT_EQ(Code(SetOrdering(ns_, kSite1, OrderingMethod::kRandom)),
            make_error_code(Errc::kInvalidArgument));
  ASSERT_TRUE(SetComment(ns_, kSite1, "primary on web1 & <b>").ok());
  EXPECT_EQ(Site1().comment, "primary on web1 & <b>");
  EXPECT_FALSE(SetComment(ns_, kSite1, "two\nlines").ok());
  EXPECT_FALSE(
      SetComment(ns_, kSite1, std::string(kMaxCommentBytes + 1, 'x')).ok());
  ASSERT_TRUE(SetSite(ns_, kSite1, kWeb1, "Dallas").ok());
  EXPECT_EQ(Site1().targets[0].site, "Dallas");
  EXPECT_FALSE(SetSite(ns_, kSite1, kWeb1, "bad site!").ok());
}

TEST_F(AdminTest, FailedOperationsChangeNothing) {
  uint64_t before_count = ns_.folder_count();
  Folder before = Site1();
  EXPECT_FALSE(AddLink(ns_, "\\\\contoso\\webfarm\\New", "not-unc").ok());
  EXPECT_FALSE(
      SetPriority(ns_, kSite1, "\\\\missing\\x", PriorityClass::kGlobalHigh, 1)
          .ok());
  EXPECT_EQ(ns_.folder_count(), before_count);
  EXPECT_EQ(Site1(), before);
}

TEST_F(AdminTest, AliasMakesNetbiosAndFqdnOneDomain) {
  // The seed's failure: the namespace lives under the NetBIOS name and the
  // admin uses the FQDN.
  auto missing = Locate(ns_, "\\\\contoso.com\\webfarm");
  ASSERT_FALSE(missing);
  EXPECT_NE(
      missing.error().Message().find("domain alias add contoso contoso.com"),
      std::string::npos)
      << missing.error().Message();
  ASSERT_TRUE(AddAlias(ns_, "contoso", "contoso.com").ok());
  EXPECT_TRUE(Locate(ns_, "\\\\CONTOSO.COM\\webfarm\\site1").has_value());
  // Roots keep living under the name that held them.
  EXPECT_EQ(*ns_.CanonicalHost("contoso.com"), "contoso");
  EXPECT_EQ(Code(AddRoot(ns_, "\\\\contoso.com\\webfarm")),
            make_error_code(Errc::kAlreadyExists));
  // Re-declaring is harmless; a third name joins the same domain.
  EXPECT_TRUE(AddAlias(ns_, "contoso.com", "CONTOSO").ok());
  ASSERT_TRUE(AddAlias(ns_, "corp", "contoso.com").ok());
  EXPECT_EQ(*ns_.CanonicalHost("corp"), "contoso");
}

TEST_F(AdminTest, AliasWithoutRootsPointsAtTheSecondName) {
  ASSERT_TRUE(AddAlias(ns_, "OW", "orcsweb.com").ok());
  EXPECT_EQ(*ns_.CanonicalHost("ow"), "orcsweb.com");
  ASSERT_TRUE(AddRoot(ns_, "\\\\OW\\webfarm").ok());
  EXPECT_TRUE(Locate(ns_, "\\\\orcsweb.com\\webfarm").has_value());
  EXPECT_EQ(Locate(ns_, "\\\\orcsweb.com\\webfarm")->root.Path(),
            "\\\\OW\\webfarm");
}

TEST_F(AdminTest, AliasRefusesToMergeTwoPopulatedDomains) {
  ASSERT_TRUE(AddRoot(ns_, "\\\\fabrikam\\web").ok());
  EXPECT_EQ(Code(AddAlias(ns_, "contoso", "fabrikam")),
            make_error_code(Errc::kConflict));
  EXPECT_EQ(Code(AddAlias(ns_, "contoso", "CONTOSO")),
            make_error_code(Errc::kInvalidArgument));
}

TEST_F(AdminTest, RemovingAliases) {
  ASSERT_TRUE(AddAlias(ns_, "contoso.com", "contoso").ok());
  EXPECT_EQ(Code(RemoveAlias(ns_, "contoso")),
            make_error_code(Errc::kConflict));
  EXPECT_TRUE(RemoveAlias(ns_, "contoso.com").ok());
  EXPECT_EQ(Code(RemoveAlias(ns_, "contoso.com")),
            make_error_code(Errc::kNotFound));
  EXPECT_FALSE(Locate(ns_, "\\\\contoso.com\\webfarm").has_value());
}

TEST_F(AdminTest, RemovingRootsAndLinks) {
  EXPECT_EQ(Code(RemoveRoot(ns_, kSite1)),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(Code(RemoveLink(ns_, kRoot)),
            make_error_code(Errc::kInvalidArgument));
  ASSERT_TRUE(RemoveLink(ns_, "\\\\CONTOSO\\webfarm\\SITE1").ok());
  EXPECT_EQ(ns_.folder_count(), 0u);
  EXPECT_EQ(Code(RemoveLink(ns_, kSite1)), make_error_code(Errc::kNotFound));
  ASSERT_TRUE(RemoveRoot(ns_, kRoot).ok());
  EXPECT_EQ(ns_.root_count(), 0u);
}

}  // namespace
}  // namespace dfs::ns

namespace dfs::ns {
namespace {

TEST(SitesTest, SubnetsAreCanonicalAndValidated) {
  EXPECT_EQ(*CanonicalCidr("10.1.2.3/16"), "10.1.0.0/16");
  EXPECT_EQ(*CanonicalCidr("10.1.2.3/32"), "10.1.2.3/32");
  EXPECT_EQ(*CanonicalCidr("2001:DB8::1/32"), "2001:db8::/32");
  EXPECT_EQ(*CanonicalCidr("0.0.0.0/0"), "0.0.0.0/0");
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0/8", "x/8",
                          "10.0.0.0/-1", "::/129", ""}) {
    EXPECT_FALSE(CanonicalCidr(bad).has_value()) << bad;
  }
  NamespaceIndex ns;
  ASSERT_TRUE(AddSubnet(ns, "10.1.2.3/16", "Dallas").ok());
  ASSERT_TRUE(
      AddSubnet(ns, "10.1.0.0/16", "Austin").ok());  // same subnet: replaced
  auto subnets = *ns.ListSubnets();
  ASSERT_EQ(subnets.size(), 1u);
  EXPECT_EQ(subnets[0].site, "Austin");
  EXPECT_FALSE(AddSubnet(ns, "10.2.0.0/16", "bad site!").ok());
  EXPECT_FALSE(AddSubnet(ns, "10.2.0.0/16", "").ok());
  EXPECT_EQ(RemoveSubnet(ns, "10.9.0.0/16").error().code,
            make_error_code(Errc::kNotFound));
  EXPECT_TRUE(RemoveSubnet(ns, "10.1.7.7/16").ok());
  EXPECT_TRUE(ns.ListSubnets()->empty());
}

TEST(SitesTest, CostsAreSymmetricAndBounded) {
  NamespaceIndex ns;
  ASSERT_TRUE(SetSiteCost(ns, "Dallas", "Austin", 5).ok());
  ASSERT_TRUE(SetSiteCost(ns, "AUSTIN", "dallas", 7).ok());  // same pair
  auto costs = *ns.ListSiteCosts();
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_EQ(costs[0].site_a, "austin");
  EXPECT_EQ(costs[0].site_b, "dallas");
  EXPECT_EQ(costs[0].cost, 7u);
  EXPECT_FALSE(SetSiteCost(ns, "Dallas", "dallas", 1).ok());
  EXPECT_FALSE(SetSiteCost(ns, "Dallas", "Austin", kMaxSiteCost + 1).ok());
  EXPECT_FALSE(ParseSiteCost("1000001").has_value());
}

}  // namespace
}  // namespace dfs::ns
