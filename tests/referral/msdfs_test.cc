// The Samba msdfs root, without Samba: the links dfsd computes for a
// namespace root (referral/msdfs.h) and how they are kept on disk
// (referral_net's SyncMsdfsDirectory).
#include "dfs/referral/msdfs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "dfs/ns/admin.h"
#include "msdfs_dir.h"
#include "testing/temp_dir.h"

namespace dfs::referral {
namespace {

namespace fs = std::filesystem;

ns::NamespaceIndex Sample() {
  ns::NamespaceIndex index;
  EXPECT_TRUE(ns::AddRoot(index, "\\\\contoso\\webfarm").ok());
  ns::TargetOptions last;
  last.priority_class = ns::PriorityClass::kGlobalLow;
  ns::TargetOptions first;
  first.priority_class = ns::PriorityClass::kGlobalHigh;
  EXPECT_TRUE(ns::AddLink(index, "\\\\contoso\\webfarm\\Site1",
                          "\\\\web2\\content\\Site1", last)
                  .ok());
  EXPECT_TRUE(ns::AddTarget(index, "\\\\contoso\\webfarm\\Site1",
                            "\\\\web1\\content\\Site1", first)
                  .ok());
  EXPECT_TRUE(
      ns::AddLink(index, "\\\\contoso\\webfarm\\Shops\\Shop1", "\\\\web3\\shop")
          .ok());
  return index;
}

TEST(MsdfsLinksTest, OneLinkPerFolderInDfsdsOrder) {
  const ns::NamespaceIndex index = Sample();
  SiteTable sites;
  auto links = MsdfsLinksFor(index, "\\\\CONTOSO\\webfarm", sites, nullptr);
  ASSERT_TRUE(links.has_value()) << links.error().Message();
  ASSERT_EQ(links->links.size(), 2u);
  EXPECT_EQ(links->links[0], (MsdfsLink{"Shops/Shop1", "msdfs:web3\\shop"}));
  EXPECT_EQ(
      links->links[1],
      (MsdfsLink{"Site1", "msdfs:web1\\content\\Site1,web2\\content\\Site1"}));
}

TEST(MsdfsLinksTest, ADownServerGoesLastAndOfflineTargetsAndFoldersGo) {
  ns::NamespaceIndex index = Sample();
  auto down_web1 = [](const ns::Target& t) { return t.server != "web1"; };
  SiteTable sites;
  auto links = MsdfsLinksFor(index, "\\\\contoso\\webfarm", sites, down_web1);
  ASSERT_TRUE(links.has_value());
  EXPECT_EQ(links->links[1].target,
            "msdfs:web2\\content\\Site1,web1\\content\\Site1");
  ASSERT_TRUE(ns::SetState(index, "\\\\contoso\\webfarm\\Site1",
                           "\\\\web2\\content\\Site1", ns::State::kOffline)
                  .ok());
  ASSERT_TRUE(ns::SetState(index, "\\\\contoso\\webfarm\\Shops\\Shop1",
                           std::nullopt, ns::State::kOffline)
                  .ok());
  links = MsdfsLinksFor(index, "\\\\contoso\\webfarm", sites, nullptr);
  ASSERT_TRUE(links.has_value());
  ASSERT_EQ(links->links.size(), 1u);
  EXPECT_EQ(links->links[0].target, "msdfs:web1\\content\\Site1");
  EXPECT_EQ(links->skipped.size(), 1u);
  EXPECT_FALSE(
      MsdfsLinksFor(index, "\\\\contoso\\nope", sites, nullptr).has_value());
}

TEST(MsdfsDirectoryTest, WritesChangesAndRemovesOnlyItsOwnLinks) {
  testing::TempDir dir;
  const fs::path root = dir.path() / "root";
  fs::create_directories(root);
  std::ofstream(root / "README.txt") << "not ours\n";
  fs::create_symlink("/etc/hostname", root / "other-link");
  auto synced = referral_net::SyncMsdfsDirectory(
      root, {{"Site1", "msdfs:a\\x"}, {"Shops/Shop1", "msdfs:b\\y"}});
  ASSERT_TRUE(synced.has_value()) << synced.error().Message();
  EXPECT_EQ(synced->written, 2u);
  EXPECT_EQ(fs::read_symlink(root / "Shops/Shop1").string(), "msdfs:b\\y");
  // The same links again: nothing written.
  synced = referral_net::SyncMsdfsDirectory(
      root, {{"Site1", "msdfs:a\\x"}, {"Shops/Shop1", "msdfs:b\\y"}});
  ASSERT_TRUE(synced.has_value());
  EXPECT_EQ(synced->written, 0u);
  EXPECT_EQ(synced->unchanged, 2u);
  // One changed, one gone: replaced in place, removed with its directory.
  synced =
      referral_net::SyncMsdfsDirectory(root, {{"Site1", "msdfs:c\\z,a\\x"}});
  ASSERT_TRUE(synced.has_value());
  EXPECT_EQ(synced->written, 1u);
  EXPECT_EQ(synced->removed, 1u);
  EXPECT_EQ(fs::read_symlink(root / "Site1").string(), "msdfs:c\\z,a\\x");
  EXPECT_FALSE(fs::exists(root / "Shops"));
  // What was not ours is still there, and no temporary link is left.
  EXPECT_TRUE(fs::exists(root / "README.txt"));
  EXPECT_TRUE(fs::is_symlink(root / "other-link"));
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(root)) {
    EXPECT_EQ(e.path().filename().string().rfind(".dfs-new-", 0),
              std::string::npos);
    ++entries;
  }
  EXPECT_EQ(entries, 3u);
}

}  // namespace
}  // namespace dfs::referral
