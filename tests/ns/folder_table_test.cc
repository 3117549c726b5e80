#include "dfs/ns/folder_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "testing/random_namespace.h"

namespace dfs::ns {
namespace {

Folder WithTtl(uint32_t ttl) {
  Folder f;
  f.ttl_seconds = ttl;
  return f;
}

TEST(FolderTableTest, FindsWhatWasInserted) {
  FolderTable t;
  EXPECT_EQ(t.Find("site1"), nullptr);
  EXPECT_TRUE(t.Upsert("site1", WithTtl(1)));
  EXPECT_FALSE(t.Upsert("site1", WithTtl(2)));
  ASSERT_NE(t.Find("site1"), nullptr);
  EXPECT_EQ(t.Find("site1")->folder.ttl_seconds, 2u);
  EXPECT_EQ(t.Find("site2"), nullptr);
  EXPECT_TRUE(t.Erase("site1"));
  EXPECT_FALSE(t.Erase("site1"));
  EXPECT_EQ(t.size(), 0u);
}

// A differential test against std::map under random inserts and erases
// over a small key space, so probe runs collide, wrap and shift a lot.
TEST(FolderTableTest, MatchesAReferenceMapUnderRandomChurn) {
  std::mt19937 rng(testing::TestSeed());
  FolderTable table;
  std::map<std::string, uint32_t> reference;
  for (int step = 0; step < 200000; ++step) {
    std::string key = "k" + std::to_string(rng() % 3000);
    if (rng() % 3 == 0) {
      EXPECT_EQ(table.Erase(key), reference.erase(key) == 1);
    } else {
      uint32_t ttl = rng();
      EXPECT_EQ(table.Upsert(key, WithTtl(ttl)), !reference.contains(key));
      reference[key] = ttl;
    }
    if (step % 10000 == 0 || step == 199999) {
      ASSERT_EQ(table.size(), reference.size());
      for (const auto& [k, ttl] : reference) {
        const auto* e = table.Find(k);
        ASSERT_NE(e, nullptr) << k;
        EXPECT_EQ(e->folder.ttl_seconds, ttl);
      }
      for (int i = 0; i < 3000; ++i) {
        std::string k = "k" + std::to_string(i);
        EXPECT_EQ(table.Find(k) != nullptr, reference.contains(k));
      }
    }
  }
}

TEST(FolderTableTest, GrowsPastHugePageSizes) {
  FolderTable t;
  for (int i = 0; i < 200000; ++i)
    ASSERT_TRUE(t.Upsert("f" + std::to_string(i), WithTtl(i)));
  for (int i = 0; i < 200000; i += 997) {
    ASSERT_NE(t.Find("f" + std::to_string(i)), nullptr);
    EXPECT_EQ(t.Find("f" + std::to_string(i))->folder.ttl_seconds,
              static_cast<uint32_t>(i));
  }
  t.Clear();
  EXPECT_EQ(t.Find("f1"), nullptr);
}

}  // namespace
}  // namespace dfs::ns
