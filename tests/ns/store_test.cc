#include "dfs/ns/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <fstream>
#include <thread>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "testing/random_namespace.h"
#include "testing/temp_dir.h"

namespace dfs::ns {
namespace {

constexpr const char* kRoot = "\\\\contoso\\webfarm";

std::unique_ptr<Store> MustOpen(const std::filesystem::path& dir,
                                StoreOptions options = {}) {
  options.create_if_missing = true;
  auto store = Store::Open(dir, options);
  EXPECT_TRUE(store) << store.error().Message();
  return std::move(store).value();
}

// Full contents of a reader, for comparing two views of one namespace.
std::string Dump(const NamespaceReader& r) {
  std::string out;
  for (const auto& e : *r.ListRoots()) {
    out += e.key + "=" + EncodeRoot(e.root) + "\n";
    for (const auto& f : *r.ListFolders(e.key))
      out += "  " + EncodeFolder(f) + "\n";
  }
  for (const auto& [a, c] : *r.ListAliases()) out += a + "->" + c + "\n";
  for (const auto& s : *r.ListSubnets()) out += s.cidr + "@" + s.site + "\n";
  for (const auto& c : *r.ListSiteCosts()) {
    out += c.site_a + "-" + c.site_b + "=" + std::to_string(c.cost) + "\n";
  }
  return out;
}

TEST(StoreTest, MissingStoreIsNotFoundUnlessCreating) {
  testing::TempDir tmp;
  auto missing = Store::Open(tmp.path() / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, make_error_code(Errc::kNotFound));
  auto store = MustOpen(tmp.path() / "new");
  EXPECT_EQ(*store->Serial(), 0u);
  // Reopening without create works once it exists.
  EXPECT_TRUE(Store::Open(tmp.path() / "new"));
}

TEST(StoreTest, EveryChangeBumpsTheSerialAndLogsIt) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  EXPECT_EQ(
      *store->Update("root add",
                     [](NamespaceWriter& w) { return AddRoot(w, kRoot); }),
      1u);
  EXPECT_EQ(*store->Update("link add",
                           [](NamespaceWriter& w) {
                             return AddLink(w, "\\\\contoso\\webfarm\\Site1",
                                            "\\\\web1\\c\\Site1");
                           }),
            2u);
  auto log = store->ChangesSince(0, 100);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].serial, 1u);
  EXPECT_EQ((*log)[0].description, "root add");
  ASSERT_EQ((*log)[1].mutations.size(), 1u);
  auto* put = std::get_if<PutFolder>(&(*log)[1].mutations[0]);
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->folder.path, "Site1");
  EXPECT_EQ(store->ChangesSince(1, 100)->size(), 1u);
  EXPECT_TRUE(store->ChangesSince(2, 100)->empty());
}

TEST(StoreTest, FailedChangeLeavesStoreUntouched) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  ASSERT_TRUE(store->Update(
      "root add", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  auto before = Dump(**store->Snapshot());
  // A change that writes something and then fails must not half-apply.
  auto r = store->Update("bad", [](NamespaceWriter& w) -> Status {
    DFS_RETURN_IF_ERROR(AddLink(w, "\\\\contoso\\webfarm\\A", "\\\\w\\a"));
    return AddLink(w, "\\\\contoso\\webfarm\\A\\B",
                   "\\\\w\\b");  // nests: fails
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kConflict));
  EXPECT_EQ(*store->Serial(), 1u);
  EXPECT_EQ(Dump(**store->Snapshot()), before);
}

TEST(StoreTest, ChangeWithoutMutationsCommitsNothing) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  ASSERT_TRUE(store->Update(
      "alias", [](NamespaceWriter& w) { return AddAlias(w, "a", "b"); }));
  // Declaring the same alias again changes nothing.
  EXPECT_EQ(
      *store->Update("alias",
                     [](NamespaceWriter& w) { return AddAlias(w, "b", "a"); }),
      1u);
  EXPECT_EQ(store->ChangesSince(0, 10)->size(), 1u);
}

TEST(StoreTest, SnapshotsAreConsistent) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  ASSERT_TRUE(store->Update(
      "root add", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  auto snapshot = store->Snapshot();
  ASSERT_TRUE(snapshot);
  ASSERT_TRUE(store->Update("link", [](NamespaceWriter& w) {
    return AddLink(w, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c");
  }));
  EXPECT_EQ((*snapshot)->Serial(), 1u);
  EXPECT_TRUE((*(*snapshot)->ListFolders("contoso\\webfarm")).empty());
  EXPECT_EQ((*(*store->Snapshot())->ListFolders("contoso\\webfarm")).size(),
            1u);
}

TEST(StoreTest, TrimmedLogAsksForResync) {
  testing::TempDir tmp;
  StoreOptions options;
  options.change_log_keep = 3;
  auto store = MustOpen(tmp.path(), options);
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(store->Update(
        "ttl", [&](NamespaceWriter& w) { return SetTtl(w, kRoot, 100 + i); }));
  }
  auto stats = *store->Stats();
  EXPECT_EQ(stats.serial, 7u);
  EXPECT_EQ(stats.log_entries, 3u);
  EXPECT_EQ(stats.oldest_logged_serial, 5u);
  EXPECT_EQ(store->ChangesSince(4, 10)->size(), 3u);
  auto gone = store->ChangesSince(2, 10);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, make_error_code(Errc::kNeedResync));
}

TEST(StoreTest, CatchUpReplaysOrReloads) {
  testing::TempDir tmp;
  StoreOptions options;
  options.change_log_keep = 5;
  auto store = MustOpen(tmp.path(), options);
  NamespaceIndex index;
  ASSERT_TRUE(store->LoadInto(index).ok());
  EXPECT_FALSE(*store->CatchUp(index));
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  ASSERT_TRUE(store->Update("link", [](NamespaceWriter& w) {
    return AddLink(w, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c");
  }));
  EXPECT_TRUE(*store->CatchUp(index));
  EXPECT_EQ(index.Serial(), 2u);
  EXPECT_EQ(index.folder_count(), 1u);
  // Fall further behind than the log reaches: CatchUp reloads.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->Update("link", [&](NamespaceWriter& w) {
      return AddLink(w, "\\\\contoso\\webfarm\\S" + std::to_string(i),
                     "\\\\web1\\c");
    }));
  }
  EXPECT_TRUE(*store->CatchUp(index));
  EXPECT_EQ(index.Serial(), 12u);
  EXPECT_EQ(index.folder_count(), 11u);
  EXPECT_EQ(Dump(index), Dump(**store->Snapshot()));
}

TEST(StoreTest, HugeChangeIsLoggedAsResync) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  NamespaceIndex index;
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  ASSERT_TRUE(*store->CatchUp(index));
  ASSERT_TRUE(store->Update("bulk", [](NamespaceWriter& w) -> Status {
    for (size_t i = 0; i <= kMaxLoggedMutations; ++i) {
      DFS_RETURN_IF_ERROR(AddLink(
          w, "\\\\contoso\\webfarm\\F" + std::to_string(i), "\\\\w\\s"));
    }
    return Status::Ok();
  }));
  auto log = *store->ChangesSince(1, 10);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(log[0].resync_required);
  EXPECT_TRUE(log[0].mutations.empty());
  // A server asks to be told instead, and reloads off its serving thread.
  auto told = store->CatchUp(index, /*allow_reload=*/false);
  ASSERT_FALSE(told);
  EXPECT_EQ(told.error().code, make_error_code(Errc::kNeedResync));
  EXPECT_EQ(index.Serial(), 1u);
  EXPECT_TRUE(*store->CatchUp(index));
  EXPECT_EQ(index.folder_count(), kMaxLoggedMutations + 1);
}

// The LMDB store and the in-memory index are two implementations of one
// writer: the same random admin script must leave them identical, and an
// index that follows the store's log must match both.
TEST(StoreTest, MatchesTheInMemoryIndexUnderRandomScripts) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  NamespaceIndex direct, follower;
  testing::RandomNamespace gen(testing::TestSeed());
  std::vector<std::string> folders;
  const std::vector<std::string> roots = {"\\\\contoso\\webfarm", "\\\\OW\\web",
                                          "\\\\srv\\r"};
  for (int step = 0; step < 300; ++step) {
    auto& rng = gen.rng();
    std::string root = roots[rng() % roots.size()];
    std::string folder =
        root + "\\" + gen.Name(3) + (rng() % 3 ? "" : "\\" + gen.Name(3));
    std::string target = "\\\\" + gen.Name(4) + "\\" + gen.Name(4);
    std::string existing =
        folders.empty() ? folder : folders[rng() % folders.size()];
    uint32_t ttl = rng() % 1000;
    std::string comment = gen.Name();
    std::function<Status(NamespaceWriter&)> op;
    switch (rng() % 9) {
      case 0:
        op = [=](NamespaceWriter& w) { return AddRoot(w, root); };
        break;
      case 1:
        op = [=](NamespaceWriter& w) { return AddLink(w, folder, target); };
        folders.push_back(folder);
        break;
      case 2:
        op = [=](NamespaceWriter& w) { return AddTarget(w, existing, target); };
        break;
      case 3:
        op = [=](NamespaceWriter& w) { return RemoveLink(w, existing); };
        break;
      case 4:
        op = [=](NamespaceWriter& w) { return SetTtl(w, root, ttl); };
        break;
      case 5:
        op = [=](NamespaceWriter& w) {
          return AddAlias(w, "ow", "orcsweb.com");
        };
        break;
      case 6:
        op = [=](NamespaceWriter& w) {
          return SetFailback(w, existing, Failback::kOn);
        };
        break;
      case 7:
        if (ttl % 10 == 0)
          op = [=](NamespaceWriter& w) { return RemoveRoot(w, root); };
        break;
      default:
        op = [=](NamespaceWriter& w) { return SetComment(w, root, comment); };
        break;
    }
    if (!op) continue;
    Status in_memory = op(direct);
    auto stored = store->Update("step", op);
    ASSERT_EQ(in_memory.ok(), stored.has_value()) << "step " << step;
    if (step % 25 == 0) {
      ASSERT_TRUE(store->CatchUp(follower));
    }
  }
  ASSERT_TRUE(store->CatchUp(follower));
  auto snapshot = *store->Snapshot();
  EXPECT_EQ(Dump(direct), Dump(*snapshot));
  EXPECT_EQ(Dump(follower), Dump(*snapshot));
  NamespaceIndex loaded;
  ASSERT_TRUE(store->LoadInto(loaded).ok());
  EXPECT_EQ(Dump(loaded), Dump(*snapshot));
}

TEST(StoreTest, ThreadsWritingAtOnceEachGetASerial) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = store->Update("link", [&](NamespaceWriter& w) {
          return AddLink(w,
                         "\\\\contoso\\webfarm\\T" + std::to_string(t) + "_" +
                             std::to_string(i),
                         "\\\\w\\s");
        });
        if (!r) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*store->Serial(), 1u + kThreads * kEach);
  auto log = *store->ChangesSince(0, 1000);
  ASSERT_EQ(log.size(), 1u + kThreads * kEach);
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].serial, i + 1);
}

TEST(StoreTest, RefusesFilesThatAreNotAStore) {
  testing::TempDir tmp;
  {
    std::ofstream junk(tmp.path() / "data.mdb");
    junk << std::string(8192, 'x');
  }
  auto r = Store::Open(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().Message().find("not an LMDB database"), std::string::npos)
      << r.error().Message();
}

// Writes `entries` into the unnamed database of a new LMDB environment.
void MakeForeignLmdb(const std::filesystem::path& dir, bool with_meta,
                     std::string_view schema) {
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 8);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi dbi;
  if (with_meta) {
    ASSERT_EQ(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
    auto put = [&](std::string_view k, std::string_view v) {
      MDB_val key{k.size(), const_cast<char*>(k.data())};
      MDB_val val{v.size(), const_cast<char*>(v.data())};
      ASSERT_EQ(mdb_put(txn, dbi, &key, &val, 0), 0);
    };
    put("format", "dfs-namespace-store");
    put("schema", schema);
  } else {
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    MDB_val key{3, const_cast<char*>("abc")}, val{3, const_cast<char*>("xyz")};
    ASSERT_EQ(mdb_put(txn, dbi, &key, &val, 0), 0);
  }
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(StoreTest, RefusesSomebodyElsesLmdb) {
  testing::TempDir tmp;
  MakeForeignLmdb(tmp.path(), /*with_meta=*/false, "");
  StoreOptions options;
  options.create_if_missing = true;
  auto r = Store::Open(tmp.path(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kCorrupt));
  EXPECT_NE(r.error().Message().find("not a dfs namespace store"),
            std::string::npos);
}

TEST(StoreTest, RefusesAnotherSchemaVersion) {
  testing::TempDir tmp;
  MakeForeignLmdb(tmp.path(), /*with_meta=*/true, std::string("\x02\0\0\0", 4));
  auto r = Store::Open(tmp.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kUnsupported));
  EXPECT_NE(r.error().Message().find("schema version 2"), std::string::npos)
      << r.error().Message();
}

TEST(StoreTest, FullStoreFailsCleanlyAndKeepsWhatItHad) {
  testing::TempDir tmp;
  StoreOptions options;
  options.map_size_bytes = 256 * 1024;  // a tiny map stands in for a full disk
  auto store = MustOpen(tmp.path(), options);
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  ASSERT_TRUE(store->Update("link", [](NamespaceWriter& w) {
    return AddLink(w, "\\\\contoso\\webfarm\\Keep", "\\\\w\\s");
  }));
  auto before = Dump(**store->Snapshot());
  auto r = store->Update("bulk", [](NamespaceWriter& w) -> Status {
    for (int i = 0; i < 5000; ++i) {
      DFS_RETURN_IF_ERROR(AddLink(w,
                                  "\\\\contoso\\webfarm\\F" + std::to_string(i),
                                  "\\\\w\\" + std::string(100, 's')));
    }
    return Status::Ok();
  });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().Message().find("nothing was changed"), std::string::npos)
      << r.error().Message();
  EXPECT_EQ(*store->Serial(), 2u);
  EXPECT_EQ(Dump(**store->Snapshot()), before);
  // And it still takes small changes.
  EXPECT_TRUE(store->Update(
      "ttl", [](NamespaceWriter& w) { return SetTtl(w, kRoot, 30); }));
}

TEST(StoreTest, KeysLongerThanLmdbAllowsAreAClearError) {
  testing::TempDir tmp;
  auto store = MustOpen(tmp.path());
  ASSERT_TRUE(store->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  std::string folder = std::string(kRoot);
  for (int i = 0; i < 3; ++i) folder += "\\" + std::string(200, 'a' + i);
  auto r = store->Update("link", [&](NamespaceWriter& w) {
    return AddLink(w, folder, "\\\\w\\s");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kLimitExceeded));
}

}  // namespace
}  // namespace dfs::ns

namespace dfs::ns {
namespace {

TEST(StoreReplicationTest, ReplicaFollowsThePrimarysLogAndRefusesWrites) {
  testing::TempDir primary_dir, replica_dir;
  auto primary = MustOpen(primary_dir.path());
  auto replica = MustOpen(replica_dir.path());
  ASSERT_TRUE(replica->MarkReplicaOf("127.0.0.1:7445").ok());
  EXPECT_EQ(**replica->ReplicaOf(), "127.0.0.1:7445");
  EXPECT_FALSE(*primary->ReplicaOf());
  auto refused = replica->Update(
      "x", [](NamespaceWriter& w) { return AddRoot(w, kRoot); });
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().Message().find("replica of 127.0.0.1:7445"),
            std::string::npos);

  ASSERT_TRUE(primary->Update(
      "root", [](NamespaceWriter& w) { return AddRoot(w, kRoot); }));
  ASSERT_TRUE(primary->Update("link", [](NamespaceWriter& w) {
    return AddLink(w, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c");
  }));
  auto log = *primary->ChangesSince(0, 10);
  // Out of order is refused; in order is applied with the primary's serials.
  EXPECT_EQ(replica->ApplyReplicated(log[1]).error().code,
            make_error_code(Errc::kConflict));
  ASSERT_TRUE(replica->ApplyReplicated(log[0]).ok());
  ASSERT_TRUE(replica->ApplyReplicated(log[1]).ok());
  EXPECT_EQ(*replica->Serial(), 2u);
  EXPECT_EQ(Dump(**replica->Snapshot()), Dump(**primary->Snapshot()));
  // The replica's own followers see the same log.
  EXPECT_EQ(*replica->ChangesSince(0, 10), log);
}

TEST(StoreReplicationTest, SnapshotReplacesEverything) {
  testing::TempDir primary_dir, replica_dir;
  auto primary = MustOpen(primary_dir.path());
  auto replica = MustOpen(replica_dir.path());
  ASSERT_TRUE(replica->Update(
      "stale", [](NamespaceWriter& w) { return AddRoot(w, "\\\\old\\root"); }));
  ASSERT_TRUE(primary->Update("root", [](NamespaceWriter& w) -> Status {
    DFS_RETURN_IF_ERROR(AddRoot(w, kRoot));
    DFS_RETURN_IF_ERROR(AddAlias(w, "contoso", "contoso.com"));
    return AddLink(w, "\\\\contoso\\webfarm\\A\\B", "\\\\web1\\c");
  }));
  ChangeEntry snapshot = *primary->SnapshotEntry();
  EXPECT_EQ(snapshot.serial, 1u);
  EXPECT_EQ(snapshot.mutations.size(), 3u);
  ASSERT_TRUE(replica->ReplaceWith(snapshot).ok());
  EXPECT_EQ(*replica->Serial(), 1u);
  EXPECT_EQ(Dump(**replica->Snapshot()), Dump(**primary->Snapshot()));
  NamespaceIndex index;
  ASSERT_TRUE(replica->CatchUp(index));
  EXPECT_EQ(index.folder_count(), 1u);
  // A snapshot round-trips through the wire encoding.
  EXPECT_EQ(
      *DecodeChangeEntry(EncodeChangeEntry(snapshot), kMaxSnapshotMutations),
      snapshot);
}

}  // namespace
}  // namespace dfs::ns
