// The LMDB layer (dfs/lmdb/lmdb.h) against real environments in temp
// folders.
#include "dfs/lmdb/lmdb.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/temp_dir.h"

namespace dfs::lmdb {
namespace {

namespace fs = std::filesystem;

std::unique_ptr<Env> MustOpen(const fs::path& dir, EnvOptions options = {}) {
  options.name = "the test store";
  options.damage_hint = "restore it from the test's backup";
  auto env = Env::Open(dir, options);
  EXPECT_TRUE(env.has_value()) << (env ? "" : env.error().Message());
  return env ? std::move(*env) : nullptr;
}

Dbi MustTable(Env& env, const char* name) {
  auto txn = env.BeginWrite();
  EXPECT_TRUE(txn.has_value());
  auto table = txn->OpenTable(name, /*create=*/true);
  EXPECT_TRUE(table.has_value() && table->has_value());
  EXPECT_TRUE(txn->Commit("creating").ok());
  return **table;
}

TEST(LmdbTest, WritesCommitOrVanish) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  {
    auto txn = env->BeginWrite();
    ASSERT_TRUE(txn.has_value());
    ASSERT_TRUE(txn->Put(t, "a", "1").ok());
    ASSERT_TRUE(txn->Commit("writing").ok());
  }
  {
    // Destroyed without a commit: aborted.
    auto txn = env->BeginWrite();
    ASSERT_TRUE(txn->Put(t, "b", "2").ok());
  }
  auto read = env->BeginRead();
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(**read->Get(t, "a"), "1");
  EXPECT_FALSE(read->Get(t, "b")->has_value());
  EXPECT_EQ(*read->Count(t), 1u);
}

TEST(LmdbTest, AReadSeesOneConsistentSnapshot) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  auto before = env->BeginRead();
  ASSERT_TRUE(before.has_value());
  auto txn = env->BeginWrite();
  ASSERT_TRUE(txn->Put(t, "k", "new").ok());
  ASSERT_TRUE(txn->Commit("writing").ok());
  EXPECT_FALSE(before->Get(t, "k")->has_value());
  auto after = env->BeginRead();
  EXPECT_EQ(**after->Get(t, "k"), "new");
}

TEST(LmdbTest, KeysOutsideLmdbsLimitsAreRefusedNotTruncated) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  auto txn = env->BeginWrite();
  const std::string too_long(kMaxKeyBytes + 1, 'k');
  for (const std::string& key : {std::string(), too_long}) {
    Status put = txn->Put(t, key, "v");
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.error().code, make_error_code(Errc::kLimitExceeded));
    // Such a key cannot be there: reading or deleting it is no error.
    EXPECT_FALSE(txn->Get(t, key)->has_value());
    EXPECT_TRUE(txn->Delete(t, key).ok());
  }
  EXPECT_TRUE(txn->Put(t, std::string(kMaxKeyBytes, 'k'), "v").ok());
}

TEST(LmdbTest, ScansAndDeletesByPrefixAndFromTheStart) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  auto txn = env->BeginWrite();
  for (const char* k : {"a\\1", "a\\2", "ab", "b\\1", "c"}) {
    ASSERT_TRUE(txn->Put(t, k, k).ok());
  }
  std::vector<std::string> seen;
  ASSERT_TRUE(
      txn->Scan(t, "a\\",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  EXPECT_EQ(k, v);
                  seen.emplace_back(k);
                  return true;
                })
          .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a\\1", "a\\2"}));
  // A visit that says stop stops; one that fails passes its error on.
  size_t visits = 0;
  ASSERT_TRUE(
      txn->Scan(t, "",
                [&](std::string_view, std::string_view) -> Result<bool> {
                  return ++visits < 2;
                })
          .ok());
  EXPECT_EQ(visits, 2u);
  Status failed =
      txn->Scan(t, "", [](std::string_view, std::string_view) -> Result<bool> {
        return Fail(Errc::kCorrupt, "bad record");
      });
  EXPECT_EQ(failed.error().code, make_error_code(Errc::kCorrupt));

  ASSERT_TRUE(txn->DeletePrefix(t, "a\\").ok());
  EXPECT_EQ(*txn->Count(t), 3u);
  EXPECT_TRUE(txn->Get(t, "ab")->has_value());
  ASSERT_TRUE(
      txn->DeleteFromStartWhile(t, [](std::string_view k) { return k < "c"; })
          .ok());
  EXPECT_EQ(*txn->Count(t), 1u);
  EXPECT_TRUE(txn->Get(t, "c")->has_value());
  // Deleting to the very end leaves an empty table, not an error.
  ASSERT_TRUE(
      txn->DeleteFromStartWhile(t, [](std::string_view) { return true; }).ok());
  EXPECT_EQ(*txn->Count(t), 0u);
  ASSERT_TRUE(txn->Put(t, "x", "1").ok());
  ASSERT_TRUE(txn->Clear(t).ok());
  EXPECT_EQ(*txn->Count(t), 0u);
}

TEST(LmdbTest, CursorsSeekAndWalk) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  auto txn = env->BeginWrite();
  for (const char* k : {"10", "20", "30"}) ASSERT_TRUE(txn->Put(t, k, "").ok());
  auto cursor = txn->OpenCursor(t);
  ASSERT_TRUE(cursor.has_value());
  auto at = cursor->Seek("15");
  ASSERT_TRUE(at.has_value() && at->has_value());
  EXPECT_EQ((*at)->key, "20");
  at = cursor->Next();
  EXPECT_EQ((*at)->key, "30");
  at = cursor->Next();
  ASSERT_TRUE(at.has_value());
  EXPECT_FALSE(at->has_value());  // the end is nothing, not an error
  EXPECT_FALSE(cursor->Seek("99")->has_value());
}

TEST(LmdbTest, VerifyCountReadsEveryEntry) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path());
  const Dbi t = MustTable(*env, "t");
  auto txn = env->BeginWrite();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(txn->Put(t, "k" + std::to_string(i), "v").ok());
  }
  auto counted = txn->VerifyCount(
      t, "t", [](std::string_view, std::string_view) { return Status::Ok(); });
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(*counted, 100u);
  // A record the caller finds bad is damage, named with the table.
  auto bad = txn->VerifyCount(t, "t", [](std::string_view k, std::string_view) {
    return k == "k42" ? Status(MakeError(Errc::kInvalidArgument, "k42 is bad"))
                      : Status::Ok();
  });
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, make_error_code(Errc::kCorrupt));
  EXPECT_NE(bad.error().Message().find("'t' table"), std::string::npos);
  EXPECT_NE(bad.error().Message().find("the test store is damaged"),
            std::string::npos);
}

TEST(LmdbTest, ATruncatedFileIsRefusedBeforeAnyRead) {
  testing::TempDir tmp;
  {
    auto env = MustOpen(tmp.path());
    const Dbi t = MustTable(*env, "t");
    auto txn = env->BeginWrite();
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(
          txn->Put(t, "key" + std::to_string(i), std::string(100, 'v')).ok());
    }
    ASSERT_TRUE(txn->Commit("writing").ok());
  }
  const fs::path data = tmp.path() / "data.mdb";
  ASSERT_GT(fs::file_size(data), 64u * 1024);
  fs::resize_file(data, 16 * 1024);
  auto env = Env::Open(tmp.path(), EnvOptions{.name = "the test store"});
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().code, make_error_code(Errc::kCorrupt));
  EXPECT_NE(env.error().Message().find("truncated"), std::string::npos)
      << env.error().Message();
  EXPECT_NE(env.error().Message().find(data.string()), std::string::npos);
}

TEST(LmdbTest, AFileThatIsNotLmdbIsRefused) {
  testing::TempDir tmp;
  std::ofstream(tmp.path() / "data.mdb") << std::string(8192, 'x');
  auto env = Env::Open(tmp.path(), {});
  ASSERT_FALSE(env.has_value());
  EXPECT_EQ(env.error().code, make_error_code(Errc::kCorrupt));
}

TEST(LmdbTest, AFullMapIsSaidAndChangesNothing) {
  testing::TempDir tmp;
  auto env = MustOpen(tmp.path(), EnvOptions{.map_size_bytes = 256 * 1024});
  const Dbi t = MustTable(*env, "t");
  auto txn = env->BeginWrite();
  Status put = Status::Ok();
  for (int i = 0; i < 10000 && put.ok(); ++i) {
    put = txn->Put(t, "key" + std::to_string(i), std::string(200, 'v'));
  }
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.error().Message().find("size limit"), std::string::npos)
      << put.error().Message();
  txn->Abort();
  EXPECT_EQ(*env->BeginRead()->Count(t), 0u);
}

}  // namespace
}  // namespace dfs::lmdb
