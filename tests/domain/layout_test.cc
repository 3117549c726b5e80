// The domain namespace's etcd layout and the etcd gateway's bodies, pure:
// a namespace goes to etcd keys and back unchanged, a change is the
// records that differ, one revision's events apply in an order the index
// accepts, and what etcd sends is checked before it is believed.
#include "dfs/domain/layout.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/domain/etcd_json.h"
#include "dfs/ns/admin.h"

namespace dfs::domain {
namespace {

const std::string kPrefix = "/dfs/";

ns::NamespaceIndex Sample() {
  ns::NamespaceIndex index;
  EXPECT_TRUE(ns::AddRoot(index, "\\\\contoso\\webfarm", {}).ok());
  EXPECT_TRUE(ns::AddLink(index, "\\\\contoso\\webfarm\\Site1",
                          "\\\\web1\\content\\Site1", {})
                  .ok());
  EXPECT_TRUE(ns::AddLink(index, "\\\\contoso\\webfarm\\Shops\\Shop7",
                          "\\\\web2\\content\\Shop7", {})
                  .ok());
  EXPECT_TRUE(index.Apply(ns::PutAlias{"contoso.com", "contoso"}).ok());
  EXPECT_TRUE(index.Apply(ns::PutSubnet{"10.1.0.0/16", "paris"}).ok());
  EXPECT_TRUE(index.Apply(ns::PutSiteCost{"london", "paris", 5}).ok());
  return index;
}

std::vector<EtcdRecord> AsRecords(
    const std::map<std::string, std::string>& records) {
  std::vector<EtcdRecord> out;
  for (const auto& [k, v] : records) out.push_back({k, v, 7, false});
  return out;
}

TEST(DomainLayoutTest, ANamespaceGoesToEtcdKeysAndBackUnchanged) {
  const ns::NamespaceIndex original = Sample();
  const auto records = RecordsOf(kPrefix, original);
  EXPECT_EQ(records.size(), 6u);  // root, 2 folders, alias, subnet, cost
  EXPECT_TRUE(records.contains("/dfs/r/contoso\\webfarm"));
  EXPECT_TRUE(records.contains("/dfs/f/contoso\\webfarm\\shops\\shop7"));
  ns::NamespaceIndex copy;
  ASSERT_TRUE(LoadRecords(kPrefix, AsRecords(records), copy).ok());
  EXPECT_EQ(RecordsOf(kPrefix, copy), records);
  EXPECT_EQ(copy.folder_count(), 2u);
}

TEST(DomainLayoutTest, AChangeIsTheRecordsThatDiffer) {
  ns::NamespaceIndex index = Sample();
  const auto before = RecordsOf(kPrefix, index);
  ASSERT_TRUE(ns::AddTarget(index, "\\\\contoso\\webfarm\\Site1",
                            "\\\\web3\\content\\Site1", {})
                  .ok());
  ASSERT_TRUE(ns::RemoveLink(index, "\\\\contoso\\webfarm\\Shops\\Shop7").ok());
  const RecordChanges changes = Diff(before, RecordsOf(kPrefix, index));
  ASSERT_EQ(changes.puts.size(), 1u);
  EXPECT_EQ(changes.puts[0].key, "/dfs/f/contoso\\webfarm\\site1");
  ASSERT_EQ(changes.deletes.size(), 1u);
  EXPECT_EQ(changes.deletes[0], "/dfs/f/contoso\\webfarm\\shops\\shop7");
  EXPECT_TRUE(Diff(before, before).empty());
}

TEST(DomainLayoutTest, ARootRemovedWithItsFoldersAppliesInOneRevision) {
  ns::NamespaceIndex index = Sample();
  const auto before = RecordsOf(kPrefix, index);
  ns::NamespaceIndex after = Sample();
  ASSERT_TRUE(ns::RemoveRoot(after, "\\\\contoso\\webfarm").ok());
  const RecordChanges changes = Diff(before, RecordsOf(kPrefix, after));
  // As a watch reports them: deletions in key order, root before folders.
  std::vector<EtcdRecord> events;
  for (const auto& key : changes.deletes) events.push_back({key, "", 9, true});
  std::sort(events.begin(), events.end(),
            [](auto& a, auto& b) { return a.key > b.key; });  // r/ before f/
  auto change = ChangeOf(kPrefix, 9, events);
  ASSERT_TRUE(change.has_value()) << change.error().Message();
  for (const auto& m : change->mutations) {
    ASSERT_TRUE(index.Apply(m).ok());
  }
  EXPECT_EQ(RecordsOf(kPrefix, index), RecordsOf(kPrefix, after));
}

TEST(DomainLayoutTest, TheMarkerCarriesTheDescriptionAndReceiptsAreNotRecords) {
  std::vector<EtcdRecord> events = {
      {"/dfs/rev", "link add x [change 01]", 4, false},
      {"/dfs/receipt/01", "link add x [change 01]", 4, false},
  };
  auto change = ChangeOf(kPrefix, 4, events);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->description, "link add x [change 01]");
  EXPECT_TRUE(change->mutations.empty());
}

TEST(DomainLayoutTest, ForeignAndDamagedKeysAreRefusedWithTheirName) {
  for (const EtcdRecord& bad : std::vector<EtcdRecord>{
           {"/other/r/x\\y", "", 1, false},
           {"/dfs/zz/what", "", 1, false},
           {"/dfs/f/nofolder", "", 1, false},
           {"/dfs/r/contoso\\webfarm", "not a root record", 1, false},
           {"/dfs/c/london\x1fparis", "five", 1, false},
           {"/dfs/s/10.0.0.0/8", "", 1, false},
       }) {
    auto m = MutationOf(kPrefix, bad);
    ASSERT_FALSE(m.has_value()) << bad.key;
    EXPECT_EQ(m.error().code, make_error_code(Errc::kCorrupt));
  }
}

TEST(DomainLayoutTest, AChangeTooLargeForOneTransactionIsRefusedBeforeSending) {
  RecordChanges big;
  for (int i = 0; i < 200; ++i)
    big.deletes.push_back("/dfs/f/x\\y\\" + std::to_string(i));
  Status fits = CheckFits(big, ChangeLimits{});
  ASSERT_FALSE(fits.ok());
  EXPECT_EQ(fits.error().code, make_error_code(Errc::kLimitExceeded));
  EXPECT_NE(fits.error().Message().find("--max-txn-ops"), std::string::npos);
  EXPECT_TRUE(CheckFits(big, ChangeLimits{1000, 1 << 20}).ok());
}

TEST(DomainLayoutTest, PrefixesAreCheckedAndRangesEndAfterThem) {
  EXPECT_TRUE(ValidatePrefix("/dfs/").ok());
  EXPECT_FALSE(ValidatePrefix("dfs/").ok());
  EXPECT_FALSE(ValidatePrefix("/dfs").ok());
  EXPECT_FALSE(ValidatePrefix(std::string("/d\nfs/")).ok());
  EXPECT_EQ(PrefixEnd("/dfs/"), "/dfs0");
  EXPECT_EQ(PrefixEnd(std::string("/a\xff", 3)), "/b");
}

// ---- the gateway's bodies ----

TEST(EtcdJsonTest, Base64GoesBothWaysForEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    auto back = FromBase64(Base64(bytes));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, bytes);
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_FALSE(FromBase64("abc").has_value());
  EXPECT_FALSE(FromBase64("a*c=").has_value());
}

TEST(EtcdJsonTest, ARangeAnswerAsEtcdSendsIt) {
  const std::string body =
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"42",)"
      R"("raft_term":"3"},"kvs":[{"key":")" +
      Base64("/dfs/rev") +
      R"(","create_revision":"5","mod_revision":"41",)"
      R"("version":"3","value":")" +
      Base64("x") + R"("}],"count":"1"})";
  auto r = ParseRangeResponse(body);
  ASSERT_TRUE(r.has_value()) << r.error().Message();
  EXPECT_EQ(r->revision, 42);
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].key, "/dfs/rev");
  EXPECT_EQ(r->records[0].value, "x");
  EXPECT_EQ(r->records[0].mod_revision, 41);
  EXPECT_FALSE(r->more);
}

TEST(EtcdJsonTest, AFailedConditionHasNoSucceededField) {
  auto failed = ParseTxnResponse(R"({"header":{"revision":"9"}})");
  ASSERT_TRUE(failed.has_value());
  EXPECT_FALSE(failed->succeeded);
  auto ok = ParseTxnResponse(
      R"({"header":{"revision":"10"},"succeeded":true,"responses":[]})");
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->succeeded);
  EXPECT_EQ(ok->revision, 10);
}

TEST(EtcdJsonTest, EtcdErrorsBecomeClearErrors) {
  auto tooMany = ParseTxnResponse(
      R"({"error":"etcdserver: too many operations in txn request","code":3,)"
      R"("message":"etcdserver: too many operations in txn request"})");
  ASSERT_FALSE(tooMany.has_value());
  EXPECT_EQ(tooMany.error().code, make_error_code(Errc::kInvalidArgument));
  EXPECT_NE(tooMany.error().Message().find("too many operations"),
            std::string::npos);
  auto auth = ParseAuthenticateResponse(
      R"({"error":"etcdserver: authentication failed, invalid user ID or password","code":3})");
  ASSERT_FALSE(auth.has_value());
  EXPECT_EQ(auth.error().code, make_error_code(Errc::kPermissionDenied));
  EXPECT_FALSE(ParseRangeResponse("<html>bad gateway</html>").has_value());
  EXPECT_FALSE(ParseRangeResponse(R"({"kvs":"no"})").has_value());
}

TEST(EtcdJsonTest, AWatchStreamParsesWholeOrInPieces) {
  const std::string stream =
      R"({"result":{"header":{"revision":"5"},"created":true}})"
      "\n"
      R"({"result":{"header":{"revision":"6"},"events":[{"kv":{"key":")" +
      Base64("/dfs/r/a\\b") + R"(","mod_revision":"6","value":")" +
      Base64("v") + R"("}},{"type":"DELETE","kv":{"key":")" +
      Base64("/dfs/f/a\\b\\c") +
      R"(","mod_revision":"6"}}]}})"
      "\n"
      R"({"result":{"header":{"revision":"7"},"canceled":true,)"
      R"("compact_revision":"3","cancel_reason":"compacted"}})"
      "\n";
  for (size_t piece : {stream.size(), size_t{1}, size_t{7}}) {
    WatchStream parser;
    std::vector<WatchMessage> all;
    for (size_t at = 0; at < stream.size(); at += piece) {
      auto got = parser.Feed(std::string_view(stream).substr(at, piece));
      ASSERT_TRUE(got.has_value()) << got.error().Message();
      all.insert(all.end(), got->begin(), got->end());
    }
    ASSERT_EQ(all.size(), 3u) << piece;
    EXPECT_TRUE(all[0].created);
    ASSERT_EQ(all[1].events.size(), 2u);
    EXPECT_FALSE(all[1].events[0].deleted);
    EXPECT_TRUE(all[1].events[1].deleted);
    EXPECT_EQ(all[1].events[1].key, "/dfs/f/a\\b\\c");
    EXPECT_EQ(all[2].compact_revision, 3);
    EXPECT_TRUE(all[2].canceled);
  }
  WatchStream hostile;
  EXPECT_FALSE(hostile
                   .Feed("{\"result\":{\"events\":[{\"type\":\"EXPLODE\","
                         "\"kv\":{}}]}}\n")
                   .has_value());
}

TEST(EtcdJsonTest, ATransactionPutsMarkerReceiptAndRecordsUnderOneCondition) {
  RecordChanges changes;
  changes.puts.push_back({"/dfs/r/a\\b", "root"});
  changes.deletes.push_back("/dfs/f/a\\b\\c");
  const std::string body =
      ChangeTxnRequest("/dfs/rev", 41, "desc", "/dfs/receipt/01", 77, changes);
  EXPECT_NE(body.find(R"("mod_revision":"41")"), std::string::npos);
  EXPECT_NE(body.find(R"("lease":"77")"), std::string::npos);
  EXPECT_NE(body.find(Base64("/dfs/receipt/01")), std::string::npos);
  EXPECT_NE(body.find("request_delete_range"), std::string::npos);
  // The first change: the marker must not exist yet.
  EXPECT_NE(ChangeTxnRequest("/dfs/rev", 0, "d", "/dfs/receipt/02", 1, changes)
                .find(R"("version":"0")"),
            std::string::npos);
}

}  // namespace
}  // namespace dfs::domain
