// dfsrd's records, index messages, path rules and reconciliation
// (repl/index.h, repl/reconcile.h): pure, no files or sockets.
#include "dfs/repl/index.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/repl/reconcile.h"

namespace dfs::repl {
namespace {

FileRecord File(const std::string& path,
                std::initializer_list<std::pair<const char*, uint64_t>> version,
                const std::string& by, int64_t mtime, uint64_t content) {
  FileRecord r;
  r.path = path;
  for (const auto& [member, count] : version) r.version.Set(member, count);
  r.modified_by = by;
  r.mtime_ns = mtime;
  r.hash = {content, content * 7};
  r.size = 100 + content;
  r.mode = 0644;
  return r;
}

TEST(VersionVectorTest, ComparesAndMerges) {
  VersionVector a, b;
  EXPECT_EQ(Compare(a, b), Order::kEqual);
  a.Bump("web1");
  EXPECT_EQ(Compare(a, b), Order::kNewer);
  EXPECT_EQ(Compare(b, a), Order::kOlder);
  b.Bump("web2");
  EXPECT_EQ(Compare(a, b), Order::kConcurrent);
  VersionVector m = VersionVector::Merge(a, b);
  EXPECT_EQ(m.Get("web1"), 1u);
  EXPECT_EQ(m.Get("web2"), 1u);
  EXPECT_EQ(Compare(m, a), Order::kNewer);
  EXPECT_EQ(Compare(m, b), Order::kNewer);
  EXPECT_EQ(VersionVector::Merge(b, a), m);  // the same on every member
}

TEST(VersionVectorTest, CountersMoveWithTheClockSoARecreatedPathWins) {
  // web1 deleted a.html at counter 3 (clock 1,000 s); the deletion was
  // forgotten everywhere but on a member that was away; web2 makes
  // a.html anew from nothing at clock 2,000 s.
  VersionVector old_deletion;
  old_deletion.Set("web1", 3);
  old_deletion.Set("web2", 1000);
  VersionVector remade;
  remade.Bump("web2", 2000);
  EXPECT_EQ(remade.Get("web2"), 2000u);
  EXPECT_NE(Compare(old_deletion, remade), Order::kNewer);
  // Within one second, counters still go up by one.
  remade.Bump("web2", 2000);
  EXPECT_EQ(remade.Get("web2"), 2001u);
  // A clock behind the counter never takes it back.
  remade.Bump("web2", 5);
  EXPECT_EQ(remade.Get("web2"), 2002u);
}

TEST(PathRulesTest, RefusesEverythingThatCouldLeaveTheFolder) {
  for (const char* ok : {"index.html", "css/site.css", "a/b/c/d.js", "..hidden",
                         "x..y", ".well-known/a"}) {
    EXPECT_TRUE(ValidateRelativePath(ok).ok()) << ok;
  }
  const std::string nul("a\0b", 3);
  for (const std::string& bad :
       {std::string(""), std::string("/etc/passwd"), std::string("../x"),
        std::string("a/../../x"), std::string("a/./b"), std::string("a//b"),
        std::string("a/"), std::string(".."), nul, std::string("a\\b"),
        std::string(".dfsrd/staging/x"), std::string(".dfsrd"),
        std::string(kMaxPathComponentBytes + 1, 'x'),
        std::string(kMaxPathBytes + 1, 'x')}) {
    EXPECT_FALSE(ValidateRelativePath(bad).ok()) << bad;
  }
  std::string deep;
  for (size_t i = 0; i <= kMaxPathDepth; ++i) deep += "d/";
  deep += "f";
  EXPECT_FALSE(ValidateRelativePath(deep.substr(0, kMaxPathBytes)).ok());
  // Deeper down, a folder named .dfsrd is just a name.
  EXPECT_TRUE(ValidateRelativePath("site/.dfsrd/x").ok());
}

TEST(IndexCodecTest, RoundTripsAndRefusesHostileReplies) {
  IndexReply reply;
  reply.member = "web2";
  reply.high_seq = 9;
  FileRecord a = File("css/site.css", {{"web1", 3}, {"web2", 1}}, "web1", 5, 1);
  a.seq = 4;
  FileRecord b = File("old.html", {{"web2", 2}}, "web2", 6, 0);
  b.deleted = true;
  b.deleted_at_ms = 1234;
  b.resolved_conflict = true;
  b.seq = 9;
  reply.records = {a, b};
  auto decoded = DecodeIndexReply(EncodeIndexReply(reply));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().Message();
  EXPECT_EQ(decoded->records, reply.records);
  EXPECT_EQ(decoded->member, "web2");

  // A record naming a path outside the folder fails the whole reply.
  FileRecord evil = a;
  evil.path = "../../etc/cron.d/x";
  evil.seq = 5;
  reply.records = {evil};
  auto refused = DecodeIndexReply(EncodeIndexReply(reply));
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().Message().find("'..'"), std::string::npos);
  // Records out of sequence, or beyond the announced high sequence.
  a.seq = 10;
  reply.records = {a};
  EXPECT_FALSE(DecodeIndexReply(EncodeIndexReply(reply)).has_value());
  // A member name that would make a file name elsewhere.
  reply.member = "../x";
  reply.records = {};
  EXPECT_FALSE(DecodeIndexReply(EncodeIndexReply(reply)).has_value());
  // A count beyond the limit is refused before anything is read.
  ByteWriter w;
  w.String("web2");
  w.U64(1);
  w.U32(kMaxIndexRecords + 1);
  auto too_many = DecodeIndexReply(w.data());
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().code, make_error_code(Errc::kLimitExceeded));
  // Every truncation of a valid reply is an error, never a short answer.
  reply.member = "web2";
  a.seq = 4;
  reply.records = {a, b};
  const std::string whole = EncodeIndexReply(reply);
  for (size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(DecodeIndexReply(whole.substr(0, n)).has_value()) << n;
  }
}

TEST(IndexCodecTest, RequestsCarryTheAskerAndAreBounded) {
  auto request = DecodeIndexRequest(EncodeIndexRequest({"web3", 42, 1 << 30}));
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->member, "web3");
  EXPECT_EQ(request->since, 42u);
  EXPECT_EQ(request->max_records, kMaxIndexRecords);  // capped
  auto file = DecodeFileRequest(EncodeFileRequest({"a/b.js", {1, 2}}));
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->path, "a/b.js");
  EXPECT_FALSE(DecodeFileRequest(EncodeFileRequest({"/etc/shadow", {}})));
}

TEST(ReconcileTest, TakesNewerVersionsAndIgnoresOlderOnes) {
  const FileRecord local = File("a.html", {{"web1", 1}}, "web1", 10, 1);
  const FileRecord newer = File("a.html", {{"web1", 2}}, "web1", 20, 2);
  Decision d = Reconcile(local, newer, "web2");
  EXPECT_EQ(d.action, Action::kFetch);
  EXPECT_FALSE(d.conflict);
  EXPECT_FALSE(d.keep_local_copy);
  EXPECT_EQ(d.result, newer);
  EXPECT_EQ(Reconcile(newer, local, "web2").action, Action::kNothing);
  EXPECT_EQ(Reconcile(local, local, "web2").action, Action::kNothing);
  // Nothing here yet.
  EXPECT_EQ(Reconcile(std::nullopt, newer, "web2").action, Action::kFetch);
  // Only the mode or mtime changed: no bytes move.
  FileRecord touched = local;
  touched.version.Bump("web1");
  touched.mode = 0600;
  EXPECT_EQ(Reconcile(local, touched, "web2").action, Action::kRecordOnly);
  // A deletion of what we hold, and of what we never had.
  FileRecord gone = newer;
  gone.deleted = true;
  EXPECT_EQ(Reconcile(local, gone, "web2").action, Action::kDelete);
  EXPECT_EQ(Reconcile(std::nullopt, gone, "web2").action, Action::kRecordOnly);
}

// Both members settle a conflict on their own: they must agree.
TEST(ReconcileTest, ConcurrentEditsSettleTheSameOnBothSides) {
  const FileRecord on1 = File("a.html", {{"web1", 2}}, "web1", 50, 1);
  const FileRecord on2 =
      File("a.html", {{"web1", 1}, {"web2", 1}}, "web2", 40, 2);
  const Decision at1 = Reconcile(on1, on2, "web1");
  const Decision at2 = Reconcile(on2, on1, "web2");
  EXPECT_TRUE(at1.conflict);
  EXPECT_TRUE(at2.conflict);
  // web1's later edit wins on both.
  EXPECT_EQ(at1.action, Action::kKeepLocal);
  EXPECT_FALSE(at1.keep_local_copy);
  EXPECT_EQ(at2.action, Action::kFetch);
  EXPECT_TRUE(at2.keep_local_copy);  // web2's version is kept there
  EXPECT_EQ(at1.result.hash, at2.result.hash);
  EXPECT_EQ(at1.result.version, at2.result.version);
  EXPECT_TRUE(at1.result.resolved_conflict);
  // The settled record is newer than both: it settles nothing again.
  EXPECT_EQ(Compare(at1.result.version, on1.version), Order::kNewer);
  EXPECT_EQ(Compare(at1.result.version, on2.version), Order::kNewer);
  EXPECT_EQ(Reconcile(at2.result, at1.result, "web2").action, Action::kNothing);
}

TEST(ReconcileTest, TheLoserIsKeptWhenAWinnerSettledElsewhereArrivesFirst) {
  const FileRecord mine =
      File("a.html", {{"web1", 1}, {"web2", 1}}, "web2", 40, 2);
  const FileRecord theirs = File("a.html", {{"web1", 2}}, "web1", 50, 1);
  // web1 settled it and sent the merged winner before web2 saw web1's edit.
  Decision at1 = Reconcile(theirs, mine, "web1");
  Decision at2 = Reconcile(mine, at1.result, "web2");
  EXPECT_FALSE(at2.conflict);  // simply newer...
  EXPECT_EQ(at2.action, Action::kFetch);
  EXPECT_TRUE(at2.keep_local_copy);  // ...but web2's own losing version stays
  // An ordinary newer version from someone who had seen ours keeps nothing.
  FileRecord plain = File("a.html", {{"web1", 2}, {"web2", 1}}, "web1", 60, 3);
  EXPECT_FALSE(Reconcile(mine, plain, "web2").keep_local_copy);
}

TEST(ReconcileTest, AnEditBeatsADeletionWhateverTheClocks) {
  FileRecord deleted = File("a.html", {{"web1", 2}}, "web1", 99, 0);
  deleted.deleted = true;
  const FileRecord edited =
      File("a.html", {{"web1", 1}, {"web2", 1}}, "web2", 1, 5);
  Decision at1 = Reconcile(deleted, edited, "web1");
  Decision at2 = Reconcile(edited, deleted, "web2");
  EXPECT_EQ(at1.action, Action::kFetch);
  EXPECT_EQ(at2.action, Action::kKeepLocal);
  EXPECT_FALSE(at1.result.deleted);
  EXPECT_EQ(at1.result.version, at2.result.version);
}

TEST(ReconcileTest, PreSeededSameContentIsNoConflictAndMovesNoBytes) {
  const FileRecord on1 = File("logo.png", {{"web1", 1}}, "web1", 10, 7);
  const FileRecord on2 = File("logo.png", {{"web2", 1}}, "web2", 11, 7);
  Decision at1 = Reconcile(on1, on2, "web1");
  Decision at2 = Reconcile(on2, on1, "web2");
  EXPECT_FALSE(at1.conflict);
  EXPECT_FALSE(at1.keep_local_copy);
  EXPECT_NE(at1.action, Action::kFetch);
  EXPECT_NE(at2.action, Action::kFetch);
  EXPECT_EQ(at1.result.version, at2.result.version);
  // Different content pre-seeded under one name is a conflict like any
  // other: the loser is kept, nothing is deleted.
  const FileRecord other = File("logo.png", {{"web2", 1}}, "web2", 5, 8);
  Decision d = Reconcile(other, on1, "web2");
  EXPECT_TRUE(d.conflict);
  EXPECT_TRUE(d.keep_local_copy);
}

}  // namespace
}  // namespace dfs::repl
