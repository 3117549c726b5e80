#include "dfs/ns/document.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/index.h"

namespace dfs::ns {
namespace {

Target T(std::string server, std::string share) {
  Target t;
  t.server = std::move(server);
  t.share = std::move(share);
  return t;
}

Folder F(std::string path, std::vector<Target> targets, uint32_t ttl = 1800) {
  Folder f;
  f.path = std::move(path);
  f.ttl_seconds = ttl;
  f.targets = std::move(targets);
  return f;
}

NamespaceDocument Doc(std::vector<Folder> folders) {
  NamespaceDocument d;
  d.root.host = "contoso";
  d.root.name = "webfarm";
  d.folders = std::move(folders);
  return d;
}

TEST(DocumentTest, DiffNamesAddedRemovedAndChangedFolders) {
  auto before = Doc(
      {F("A", {T("w1", "a")}), F("B", {T("w1", "b")}), F("C", {T("w1", "c")})});
  auto after =
      Doc({F("a", {T("w1", "a")}), F("C", {T("w1", "c"), T("w2", "c")}, 60),
           F("D", {T("w1", "d")})});
  after.root.ttl_seconds = 60;
  NamespaceDiff d = Diff(before, after);
  ASSERT_EQ(d.root_changes.size(), 1u);
  EXPECT_EQ(d.root_changes[0], "ttl: 300 -> 60");
  ASSERT_EQ(d.folders.size(), 4u);
  // A -> a is a change of display case only.
  EXPECT_EQ(d.folders[0].kind, FolderDiff::Kind::kChanged);
  EXPECT_EQ(d.folders[0].details[0], "path: A -> a");
  EXPECT_EQ(d.folders[1].kind, FolderDiff::Kind::kRemoved);
  EXPECT_EQ(d.folders[1].path, "B");
  EXPECT_EQ(d.folders[2].kind, FolderDiff::Kind::kChanged);
  EXPECT_EQ(d.folders[2].details.size(), 2u);  // ttl and a target added
  EXPECT_EQ(d.folders[3].kind, FolderDiff::Kind::kAdded);
  EXPECT_TRUE(Diff(after, after).empty());
}

TEST(DocumentTest, DiffIgnoresRootDisplayNames) {
  auto a = Doc({});
  auto b = Doc({});
  b.root.host = "orcsweb.com";
  EXPECT_TRUE(Diff(a, b).empty());
}

TEST(DocumentTest, MergeAddsAndUpdatesButNeverRemoves) {
  auto base =
      Doc({F("A", {T("w1", "a"), T("w2", "a")}), F("B", {T("w1", "b")})});
  base.root.targets = {T("ns1", "webfarm")};
  Target updated = T("W2", "A");
  updated.priority_class = PriorityClass::kGlobalLow;
  auto incoming =
      Doc({F("a", {updated, T("w3", "a")}, 60), F("C", {T("w1", "c")})});
  incoming.root.host = "other";
  incoming.root.targets = {T("ns2", "webfarm")};
  incoming.root.failback = true;
  NamespaceDocument m = Merge(base, incoming);
  EXPECT_EQ(m.root.host, "contoso");
  EXPECT_TRUE(m.root.failback);
  EXPECT_EQ(m.root.targets.size(), 2u);
  ASSERT_EQ(m.folders.size(), 3u);
  EXPECT_EQ(m.folders[0].ttl_seconds, 60u);
  ASSERT_EQ(m.folders[0].targets.size(), 3u);  // w1 kept, w2 updated, w3 added
  EXPECT_EQ(m.folders[0].targets[0].server, "w1");
  EXPECT_EQ(m.folders[0].targets[1].priority_class, PriorityClass::kGlobalLow);
  EXPECT_EQ(m.folders[1].path, "B");
  EXPECT_EQ(m.folders[2].path, "C");
}

TEST(DocumentTest, ValidateFoldersCatchesWhatTheStoreWouldRefuse) {
  EXPECT_TRUE(
      ValidateFolders({F("A", {T("w", "a")}), F("B\\C", {T("w", "b")})}).ok());
  EXPECT_EQ(ValidateFolders({F("A", {}), F("a", {})}).error().code,
            make_error_code(Errc::kAlreadyExists));
  EXPECT_EQ(ValidateFolders({F("A\\B", {}), F("a", {})}).error().code,
            make_error_code(Errc::kConflict));
  EXPECT_FALSE(ValidateFolders({F("..", {})}).ok());
  EXPECT_FALSE(ValidateFolders({F("A", {T("w", "a"), T("W", "A")})}).ok());
}

TEST(DocumentTest, CheckSameRootFollowsAliasesBothWays) {
  NamespaceIndex ns;
  ASSERT_TRUE(AddRoot(ns, "\\\\OW\\webfarm").ok());
  auto before =
      CheckSameRoot(ns, "\\\\OW\\webfarm", "\\\\orcsweb.com\\webfarm");
  ASSERT_FALSE(before.ok());
  EXPECT_NE(
      before.error().Message().find("dfsutil domain alias add OW orcsweb.com"),
      std::string::npos);
  ASSERT_TRUE(AddAlias(ns, "OW", "orcsweb.com").ok());
  EXPECT_TRUE(
      CheckSameRoot(ns, "\\\\OW\\webfarm", "\\\\orcsweb.com\\WEBFARM").ok());
  EXPECT_TRUE(
      CheckSameRoot(ns, "\\\\orcsweb.com\\webfarm", "\\\\ow\\webfarm").ok());
  auto other = CheckSameRoot(ns, "\\\\OW\\webfarm", "\\\\OW\\intranet");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(
      other.error().Message().find("root names webfarm and intranet differ"),
      std::string::npos);
}

TEST(DocumentTest, ApplyDiffTurnsOneIntoTheOther) {
  NamespaceIndex ns;
  ASSERT_TRUE(AddRoot(ns, "\\\\contoso\\webfarm").ok());
  ASSERT_TRUE(AddLink(ns, "\\\\contoso\\webfarm\\A", "\\\\w1\\a").ok());
  ASSERT_TRUE(AddLink(ns, "\\\\contoso\\webfarm\\B", "\\\\w1\\b").ok());
  auto current = *ReadDocument(ns, "\\\\contoso\\webfarm");
  auto desired = Doc({F("B", {T("w9", "b")}), F("C\\D", {T("w1", "d")})});
  desired.root.comment = "new";
  ASSERT_TRUE(
      ApplyDiff(ns, "contoso\\webfarm", desired.root, Diff(current, desired))
          .ok());
  auto now = *ReadDocument(ns, "\\\\contoso\\webfarm");
  EXPECT_TRUE(Diff(now, desired).empty());
  EXPECT_EQ(now.root.comment, "new");
  EXPECT_EQ(ns.folder_count(), 2u);
}

}  // namespace
}  // namespace dfs::ns
