#include "dfs/ns/index.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"

namespace dfs::ns {
namespace {

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(AddRoot(index_, "\\\\contoso.com\\webfarm").ok());
    ASSERT_TRUE(AddLink(index_, "\\\\contoso.com\\webfarm\\Site1",
                        "\\\\web1\\content\\Site1")
                    .ok());
    ASSERT_TRUE(AddLink(index_, "\\\\contoso.com\\webfarm\\Sites\\Site2",
                        "\\\\web2\\c\\Site2")
                    .ok());
    ASSERT_TRUE(AddLink(index_, "\\\\contoso.com\\webfarm\\A\\B\\C\\D",
                        "\\\\web3\\c\\d")
                    .ok());
  }

  // The folder path the lookup matched, "" for the root, "none" for no root.
  std::string Lookup(std::string_view path) {
    auto m = index_.FindLongestPrefix(path, scratch_);
    if (!m) return "error: " + m.error().Message();
    if (!*m) return "none";
    return (*m)->folder ? (*m)->folder->path : "";
  }

  NamespaceIndex index_;
  NormalizedPath scratch_;
};

TEST_F(IndexTest, FindsTheFolderAPathFallsIn) {
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Site1"), "Site1");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Site1\\img\\logo.png"), "Site1");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Sites\\Site2\\x"),
            "Sites\\Site2");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\A\\B\\C\\D\\E\\F"), "A\\B\\C\\D");
}

TEST_F(IndexTest, ReportsComponentsConsumed) {
  auto m = index_.FindLongestPrefix("//CONTOSO.com/WebFarm/sites/site2/a/b",
                                    scratch_);
  ASSERT_TRUE(m && *m);
  EXPECT_EQ((*m)->consumed_components, 4u);
  EXPECT_EQ(scratch_.DisplayRange(0, 4), "CONTOSO.com\\WebFarm\\sites\\site2");
  EXPECT_EQ((*m)->root->root.name, "webfarm");
}

TEST_F(IndexTest, IsCaseInsensitiveAndAcceptsSlashes) {
  EXPECT_EQ(Lookup("//CONTOSO.COM/WEBFARM/SITE1/Index.HTML"), "Site1");
}

TEST_F(IndexTest, PathsOutsideFoldersMatchTheRoot) {
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm"), "");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Sites"), "");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Site10"), "");
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\A\\B\\C"), "");
}

TEST_F(IndexTest, UnknownRootsMatchNothing) {
  EXPECT_EQ(Lookup("\\\\fabrikam\\webfarm\\Site1"), "none");
  EXPECT_EQ(Lookup("\\\\contoso.com\\other\\Site1"), "none");
}

TEST_F(IndexTest, HostilePathsAreErrorsNotMatches) {
  EXPECT_NE(Lookup("\\\\contoso.com\\webfarm\\Site1\\..\\..\\x").find("error"),
            std::string::npos);
  EXPECT_NE(Lookup("contoso.com\\webfarm").find("error"), std::string::npos);
}

TEST_F(IndexTest, AliasesNameTheSameNamespace) {
  ASSERT_TRUE(AddAlias(index_, "CONTOSO", "contoso.com").ok());
  EXPECT_EQ(Lookup("\\\\contoso\\webfarm\\site1\\x"), "Site1");
  EXPECT_EQ(Lookup("\\\\Contoso.Com\\webfarm\\site1\\x"), "Site1");
}

TEST_F(IndexTest, TracksDepthAndPrefixesAcrossRemovals) {
  EXPECT_EQ(index_.folder_count(), 3u);
  EXPECT_TRUE(*index_.HasFolderBelow("contoso.com\\webfarm", "a\\b"));
  ASSERT_TRUE(RemoveLink(index_, "\\\\contoso.com\\webfarm\\A\\B\\C\\D").ok());
  EXPECT_FALSE(*index_.HasFolderBelow("contoso.com\\webfarm", "a\\b"));
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\A\\B\\C\\D"), "");
  // The folder that blocked A\B is gone, so A\B may now be a folder.
  EXPECT_TRUE(
      AddLink(index_, "\\\\contoso.com\\webfarm\\A\\B", "\\\\w\\s").ok());
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\A\\B\\C\\D"), "A\\B");
}

TEST_F(IndexTest, DeletingARootDropsItsFolders) {
  ASSERT_TRUE(RemoveRoot(index_, "\\\\contoso.com\\webfarm").ok());
  EXPECT_EQ(index_.root_count(), 0u);
  EXPECT_EQ(index_.folder_count(), 0u);
  EXPECT_EQ(Lookup("\\\\contoso.com\\webfarm\\Site1"), "none");
}

TEST_F(IndexTest, RejectsMutationsThatBreakItsInvariants) {
  Folder f;
  f.path = "x";
  EXPECT_FALSE(index_.Apply(PutFolder{"nohost\\noroot", "x", f}).ok());
  std::string deep = "a";
  for (size_t i = 0; i < kMaxFolderDepth; ++i) deep += "\\a";
  EXPECT_FALSE(index_.Apply(PutFolder{"contoso.com\\webfarm", deep, f}).ok());
  EXPECT_FALSE(index_.Apply(PutFolder{"contoso.com\\webfarm", "", f}).ok());
}

}  // namespace
}  // namespace dfs::ns
