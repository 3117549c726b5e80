// The status page's replication section without sockets: a dfsrd member's
// /status answer parsed (and refused when it is not what dfsrd sends), and
// the readings of several members merged into /api/replication.
#include "dfs/referral/replication_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dfs::referral {
namespace {

using nlohmann::json;

std::string Answer(const json& body, std::string status = "200 OK") {
  const std::string text = body.dump();
  return "HTTP/1.1 " + status +
         "\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\n\r\n" + text;
}

json Web1() {
  return {{"group", "site1"},
          {"member", "web1"},
          {"folder", "content"},
          {"records", 12},
          {"conflicts", 1},
          {"conflicts_kept", 1},
          {"bytes_saved", 4000},
          {"counters",
           {{"content_bytes_received", 5000}, {"bytes_received", 1000}}},
          {"peers",
           {{{"name", "web2"},
             {"connected", true},
             {"last_contact_ms_ago", 40},
             {"backlog_in", 7},
             {"backlog_out", 3},
             {"backlog_out_complete", true},
             {"oldest_pending_out_ms_ago", 9000},
             {"rejoining", false}}}}};
}

json Web2() {
  return {{"group", "site1"},
          {"member", "web2"},
          {"records", 12},
          {"peers",
           {{{"name", "web1"},
             {"connected", true},
             {"last_contact_ms_ago", 30},
             {"backlog_in", 3},
             {"backlog_out", 2},
             {"backlog_out_complete", true},
             {"oldest_pending_out_ms_ago", 5000},
             {"rejoining", false}}}}};
}

TEST(ReplicationStatusTest, ParsesWhatDfsrdSends) {
  auto s = ParseMemberStatusResponse(Answer(Web1()));
  ASSERT_TRUE(s.has_value()) << s.error().Message();
  EXPECT_EQ(s->group, "site1");
  EXPECT_EQ(s->member, "web1");
  EXPECT_EQ(s->bytes_saved, 4000u);
  EXPECT_EQ(s->content_bytes_received, 5000u);
  ASSERT_EQ(s->peers.size(), 1u);
  EXPECT_EQ(s->peers[0].name, "web2");
  EXPECT_EQ(s->peers[0].backlog_out, 3u);
  EXPECT_EQ(*s->peers[0].oldest_pending_out_ms_ago, 9000);
}

TEST(ReplicationStatusTest, RefusesAnswersThatAreNotADfsrdStatus) {
  auto refused = [](const std::string& answer) {
    auto s = ParseMemberStatusResponse(answer);
    return s.has_value() ? std::string() : s.error().Message();
  };
  EXPECT_NE(refused(Answer(Web1(), "404 Not Found")).find("not 200"),
            std::string::npos);
  EXPECT_NE(refused("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n").find("no body"),
            std::string::npos);
  EXPECT_NE(refused("HTTP/1.1 200 OK\r\n\r\n{\"group\":").find("not a JSON"),
            std::string::npos);
  json no_member = Web1();
  no_member.erase("member");
  EXPECT_NE(refused(Answer(no_member)).find("'member' is missing"),
            std::string::npos);
  json negative = Web1();
  negative["peers"][0]["backlog_out"] = -4;
  EXPECT_NE(refused(Answer(negative)).find("'backlog_out' is not a count"),
            std::string::npos);
  json control = Web1();
  control["member"] = "web1\x1b[31m";
  EXPECT_NE(refused(Answer(control)).find("control character"),
            std::string::npos);
  json long_name = Web1();
  long_name["group"] = std::string(kMaxMemberStatusNameBytes + 1, 'g');
  EXPECT_NE(refused(Answer(long_name)).find("longer than"), std::string::npos);
  json crowd = Web1();
  crowd["peers"] = json::array();
  for (size_t i = 0; i <= kMaxMemberStatusPeers; ++i)
    crowd["peers"].push_back(Web1()["peers"][0]);
  EXPECT_NE(refused(Answer(crowd)).find("more than"), std::string::npos);
  EXPECT_NE(
      refused(std::string(kMaxMemberStatusBytes + 1, 'x')).find("larger than"),
      std::string::npos);
}

MemberReading Reading(const std::string& address, const json& body,
                      bool reachable, int64_t at_ms) {
  MemberReading r;
  r.address = address;
  r.last = *ParseMemberStatusResponse(Answer(body));
  r.last_ok_ms = at_ms;
  r.reachable = reachable;
  if (!reachable) r.error = "no answer within 1000 ms";
  return r;
}

TEST(ReplicationStatusTest, BacklogInComesFromThePeersOwnExactCount) {
  const std::vector<MemberReading> readings = {
      Reading("127.0.0.1:1", Web1(), true, 10'000),
      Reading("127.0.0.1:2", Web2(), true, 10'000)};
  const json j = json::parse(ReplicationJson(readings, 10'500));
  EXPECT_EQ(j["configured"], 2);
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["group"], "site1");
  const json& members = j["groups"][0]["members"];
  ASSERT_EQ(members.size(), 2u);
  const json& web1 = members[0];
  EXPECT_EQ(web1["member"], "web1");
  EXPECT_EQ(web1["read_ms_ago"], 500);
  EXPECT_EQ(web1["bytes_saved"], 4000);
  const json& link = web1["peers"][0];
  EXPECT_EQ(link["name"], "web2");
  EXPECT_EQ(link["connected"], true);
  EXPECT_EQ(link["backlog_out"], 3);
  EXPECT_EQ(link["oldest_pending_out_ms_ago"], 9000);
  // web1's own figure is an upper bound (7); web2 counted 2 exactly.
  EXPECT_EQ(link["backlog_in"], 2);
  EXPECT_EQ(link["backlog_in_exact"], true);
  EXPECT_EQ(link["oldest_pending_in_ms_ago"], 5000);
}

TEST(ReplicationStatusTest, AnUnreachableMemberIsShownStaleAndNotTrusted) {
  const std::vector<MemberReading> readings = {
      Reading("127.0.0.1:1", Web1(), true, 10'000),
      Reading("127.0.0.1:2", Web2(), /*reachable=*/false, 4'000),
      MemberReading{"127.0.0.1:3", std::nullopt, 0, false,
                    "connection refused"}};
  const json j = json::parse(ReplicationJson(readings, 10'000));
  ASSERT_EQ(j["groups"].size(), 2u);
  // Never answered: no group known (listed last).
  EXPECT_TRUE(j["groups"][1]["group"].is_null());
  EXPECT_EQ(j["groups"][1]["members"][0]["address"], "127.0.0.1:3");
  EXPECT_EQ(j["groups"][1]["members"][0]["error"], "connection refused");
  const json& site1 = j["groups"][0]["members"];
  const json& web2 = site1[1];
  EXPECT_EQ(web2["reachable"], false);
  EXPECT_EQ(web2["read_ms_ago"], 6000);
  // Its last links are not shown as connected now.
  EXPECT_EQ(web2["peers"][0]["connected"], false);
  // web1's backlog in from web2 falls back to its own bound.
  const json& link = site1[0]["peers"][0];
  EXPECT_EQ(link["backlog_in"], 7);
  EXPECT_EQ(link["backlog_in_exact"], false);
  EXPECT_TRUE(link["oldest_pending_in_ms_ago"].is_null());
}

}  // namespace
}  // namespace dfs::referral
