// A dfsrd member's LMDB state (repl_state/state_store.h) in a temp folder.
#include "dfs/repl_state/state_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "dfs/common/error.h"
#include "testing/temp_dir.h"

namespace dfs::repl {
namespace {

FileRecord Record(const std::string& path, uint64_t content) {
  FileRecord r;
  r.path = path;
  r.version.Bump("web1");
  r.hash = {content, content};
  r.size = content;
  r.modified_by = "web1";
  return r;
}

TEST(StateStoreTest, EveryPutTakesTheNextSequenceNumber) {
  testing::TempDir tmp;
  auto store = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(store.has_value()) << store.error().Message();
  auto& s = **store;
  EXPECT_EQ(*s.Put(Record("a", 1), LocalStat{1, 1, 1, 1}), 1u);
  EXPECT_EQ(*s.Put(Record("b", 2), std::nullopt), 2u);
  EXPECT_EQ(*s.Put(Record("a", 3), LocalStat{1, 3, 2, 2}), 3u);  // a again
  EXPECT_EQ(*s.HighSeq(), 3u);
  // "a" moved to the end: a peer that pulled up to 1 gets b, then a.
  auto since = s.Since(1, 10);
  ASSERT_TRUE(since.has_value());
  ASSERT_EQ(since->size(), 2u);
  EXPECT_EQ((*since)[0].path, "b");
  EXPECT_EQ((*since)[1].path, "a");
  EXPECT_EQ((*since)[1].seq, 3u);
  EXPECT_EQ(s.Since(0, 1)->size(), 1u);  // bounded
  EXPECT_EQ(**s.GetStat("a"), (LocalStat{1, 3, 2, 2}));
  EXPECT_FALSE(s.GetStat("b")->has_value());
  // The content index follows the latest content only.
  EXPECT_TRUE(s.PathsWithHash({1, 1})->empty());
  EXPECT_EQ(*s.PathsWithHash({3, 3}), std::vector<std::string>{"a"});
  ASSERT_TRUE(s.Remove("b").ok());
  EXPECT_FALSE(s.Get("b")->has_value());
  EXPECT_EQ(s.Since(0, 10)->size(), 1u);
}

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(StateStoreTest, PendingCountsWhatAPeerLacksAndWhenTheOldestWasStored) {
  testing::TempDir tmp;
  auto store = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(store.has_value()) << store.error().Message();
  auto& s = **store;
  const int64_t before = WallMillis();
  ASSERT_TRUE(s.Put(Record("a", 1), std::nullopt).has_value());  // seq 1
  const int64_t between = WallMillis();
  ASSERT_TRUE(s.Put(Record("b", 2), std::nullopt).has_value());  // seq 2
  ASSERT_TRUE(s.Put(Record("c", 3), std::nullopt).has_value());  // seq 3
  ASSERT_TRUE(s.Put(Record("a", 4), std::nullopt).has_value());  // seq 4
  const int64_t after = WallMillis();

  // Nothing pending for a peer that pulled everything.
  auto none = s.PendingAfter(4, 100);
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->records, 0u);
  EXPECT_TRUE(none->complete);
  EXPECT_FALSE(none->oldest_recorded_ms.has_value());
  // A peer that pulled nothing lacks three paths (a counted once, at its
  // latest sequence), the oldest being b's.
  auto all = s.PendingAfter(0, 100);
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->records, 3u);
  EXPECT_TRUE(all->complete);
  ASSERT_TRUE(all->oldest_recorded_ms.has_value());
  EXPECT_GE(*all->oldest_recorded_ms, between);
  EXPECT_LE(*all->oldest_recorded_ms, after);
  EXPECT_GE(*all->oldest_recorded_ms, before);
  // Counting stops at the limit, and says so.
  auto capped = s.PendingAfter(0, 2);
  ASSERT_TRUE(capped.has_value());
  EXPECT_EQ(capped->records, 2u);
  EXPECT_FALSE(capped->complete);
  // The records still read back whole through the sequence index.
  auto since = s.Since(2, 10);
  ASSERT_TRUE(since.has_value());
  ASSERT_EQ(since->size(), 2u);
  EXPECT_EQ((*since)[0].path, "c");
  EXPECT_EQ((*since)[1].path, "a");
}

TEST(StateStoreTest, PeerStateIsReadModifiedAndWrittenAtOnce) {
  testing::TempDir tmp;
  auto store = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE((*store)
                  ->UpdatePeer("web2", [](PeerState& p) { p.pulled_seq = 5; })
                  .ok());
  ASSERT_TRUE((*store)
                  ->UpdatePeer("web2", [](PeerState& p) { p.served_seq = 7; })
                  .ok());
  auto peer = (*store)->Peer("web2");
  EXPECT_EQ(peer->pulled_seq, 5u);
  EXPECT_EQ(peer->served_seq, 7u);
  EXPECT_EQ((*store)->Peer("web3")->pulled_seq, 0u);
}

TEST(StateStoreTest, ARejoinIsKeptAndStartsFromTheFirstRecord) {
  PeerState p;
  EXPECT_FALSE(p.OutOfContactLongerThan(1'000'000, 10));  // never met
  p.last_contact_ms = 1'000;
  p.last_served_ms = 5'000;
  EXPECT_FALSE(p.OutOfContactLongerThan(5'010, 10));
  EXPECT_TRUE(p.OutOfContactLongerThan(5'011, 10));
  p.pulled_seq = 40;
  p.served_seq = 70;
  p.BeginRejoin();
  EXPECT_TRUE(p.rejoining);
  EXPECT_EQ(p.pulled_seq, 0u);
  EXPECT_EQ(p.rejoin_pulled_seq, 40u);
  EXPECT_EQ(p.rejoin_known_seq, 70u);
  p.pulled_seq = 12;
  p.served_seq = 0;  // the peer's own full pull asks from 0
  p.BeginRejoin();   // again: what was known before stays
  EXPECT_EQ(p.rejoin_pulled_seq, 40u);
  EXPECT_EQ(p.rejoin_known_seq, 70u);

  testing::TempDir tmp;
  auto store = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(store.has_value());
  ASSERT_TRUE((*store)->UpdatePeer("web2", [&](PeerState& s) { s = p; }).ok());
  auto read = (*store)->Peer("web2");
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->rejoining);
  EXPECT_EQ(read->rejoin_pulled_seq, 40u);
  EXPECT_EQ(read->rejoin_known_seq, 70u);
}

TEST(StateStoreTest, ASignatureHoldsWhileItsFileIsUnchanged) {
  testing::TempDir tmp;
  auto opened = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(opened.has_value());
  StateStore& store = **opened;
  const LocalStat stat{77, 300, 1'000, 2'000};
  const ChunkParams params;
  const std::vector<ChunkEntry> chunks = {{Hash128{1, 2}, 100},
                                          {Hash128{3, 4}, 200}};
  ASSERT_TRUE(store.Put(Record("big.bin", 300), stat).has_value());
  ASSERT_TRUE(store.PutSignature("big.bin", stat, params, chunks).ok());
  auto kept = store.GetSignature("big.bin", stat, params);
  ASSERT_TRUE(kept.has_value() && kept->has_value());
  EXPECT_EQ(**kept, chunks);
  // Another stat (the file changed) or other params: nothing.
  LocalStat touched = stat;
  touched.ctime_ns += 1;
  EXPECT_FALSE(store.GetSignature("big.bin", touched, params)->has_value());
  ChunkParams other = params;
  other.avg *= 2;
  other.max *= 2;
  EXPECT_FALSE(store.GetSignature("big.bin", stat, other)->has_value());
  // A new record of the path drops it.
  ASSERT_TRUE(store.Put(Record("big.bin", 300), stat).has_value());
  EXPECT_FALSE(store.GetSignature("big.bin", stat, params)->has_value());
  ASSERT_TRUE(store.PutSignature("big.bin", stat, params, chunks).ok());
  ASSERT_TRUE(store.Remove("big.bin").ok());
  EXPECT_FALSE(store.GetSignature("big.bin", stat, params)->has_value());
}

TEST(StateStoreTest, AnotherMembersStateIsRefused) {
  testing::TempDir tmp;
  ASSERT_TRUE(StateStore::Open(tmp.path(), "site1", "web1").has_value());
  auto other = StateStore::Open(tmp.path(), "site1", "web2");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, make_error_code(Errc::kConflict));
  EXPECT_FALSE(StateStore::Open(tmp.path(), "site2", "web1").has_value());
  auto reading = StateStore::OpenForReading(tmp.path());
  ASSERT_TRUE(reading.has_value());
  EXPECT_EQ((*reading)->member(), "web1");
}

}  // namespace
}  // namespace dfs::repl

namespace dfs::repl {
namespace {

// The walk reads in pieces (short read transactions): nothing is skipped
// or seen twice across the pieces, and a folder's walk stays inside it.
TEST(StateStoreTest, WalksEveryRecordAcrossPieces) {
  testing::TempDir tmp;
  auto store = StateStore::Open(tmp.path(), "site1", "web1");
  ASSERT_TRUE(store.has_value());
  for (int i = 0; i < 2500; ++i) {
    ASSERT_TRUE(
        (*store)->Put(Record("a/" + std::to_string(i), i), std::nullopt));
  }
  ASSERT_TRUE((*store)->Put(Record("a", 1), std::nullopt));
  ASSERT_TRUE((*store)->Put(Record("ab", 1), std::nullopt));
  std::set<std::string> seen;
  size_t visits = 0;
  ASSERT_TRUE((*store)
                  ->ForEach([&](const FileRecord& r) {
                    seen.insert(r.path);
                    ++visits;
                    return true;
                  })
                  .ok());
  EXPECT_EQ(visits, 2502u);
  EXPECT_EQ(seen.size(), 2502u);
  size_t under = 0;
  ASSERT_TRUE((*store)
                  ->ForEachUnder("a",
                                 [&](const FileRecord& r) {
                                   EXPECT_EQ(r.path.rfind("a/", 0), 0u)
                                       << r.path;
                                   ++under;
                                   return true;
                                 })
                  .ok());
  EXPECT_EQ(under, 2500u);
  size_t stopped = 0;
  ASSERT_TRUE((*store)
                  ->ForEach([&](const FileRecord&) { return ++stopped < 1500; })
                  .ok());
  EXPECT_EQ(stopped, 1500u);
}

}  // namespace
}  // namespace dfs::repl
