// Integration tests: the real dfsutil binary against real LMDB stores,
// including several processes writing and reading one store at once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs {
namespace {

using nlohmann::json;
using testing::ProcessResult;

class DfsutilTest : public ::testing::Test {
 protected:
  std::vector<std::string> Args(std::vector<std::string> rest) {
    std::vector<std::string> argv = {DFSUTIL_PATH, "--store",
                                     store_.path().string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  ProcessResult Dfsutil(std::vector<std::string> rest) {
    return testing::Run(Args(std::move(rest)));
  }
  // Runs a command that must succeed.
  ProcessResult Ok(std::vector<std::string> rest) {
    auto r = Dfsutil(rest);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  }
  json ShowJson(const std::string& path) {
    auto r = Ok({"--json", "show", path});
    return json::parse(r.out);
  }

  testing::TempDir store_;
};

TEST_F(DfsutilTest, BuildsTheSeedsWebFarm) {
  // Seed 003: primary first among all targets, backup last, failback on
  // at root and folder, folder TTL lowered from 1800 s.
  Ok({"root", "add", "\\\\contoso\\webfarm"});
  Ok({"target", "add", "\\\\contoso\\webfarm", "\\\\ns1\\webfarm"});
  Ok({"link", "add", "\\\\contoso\\webfarm\\Site1",
      "\\\\web1\\content\\Site1"});
  Ok({"target", "add", "\\\\contoso\\webfarm\\Site1",
      "\\\\web2\\content\\Site1"});
  Ok({"property", "priority", "set", "\\\\contoso\\webfarm\\Site1",
      "\\\\web1\\content\\Site1", "first"});
  Ok({"property", "priority", "set", "\\\\contoso\\webfarm\\Site1",
      "\\\\web2\\content\\Site1", "last", "5"});
  Ok({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "60"});
  Ok({"property", "failback", "set", "\\\\contoso\\webfarm", "on"});
  Ok({"property", "failback", "set", "\\\\contoso\\webfarm\\Site1", "on"});
  Ok({"property", "ordering", "set", "\\\\contoso\\webfarm", "random"});
  Ok({"property", "comment", "set", "\\\\contoso\\webfarm\\Site1",
      "shop & blog"});
  Ok({"property", "site", "set", "\\\\contoso\\webfarm\\Site1",
      "\\\\web2\\content\\Site1", "Backup-DC"});
  Ok({"property", "state", "set", "\\\\contoso\\webfarm\\Site1",
      "\\\\web2\\content\\Site1", "offline"});

  json root = ShowJson("//CONTOSO/WEBFARM");
  EXPECT_EQ(root["ttl"], 300);
  EXPECT_EQ(root["failback"], true);
  EXPECT_EQ(root["ordering"], "random");
  ASSERT_EQ(root["namespaceServers"].size(), 1u);
  ASSERT_EQ(root["folders"].size(), 1u);
  json site1 = root["folders"][0];
  EXPECT_EQ(site1["folder"], "Site1");
  EXPECT_EQ(site1["ttl"], 60);
  EXPECT_EQ(site1["failback"], "on");
  EXPECT_EQ(site1["comment"], "shop & blog");
  ASSERT_EQ(site1["targets"].size(), 2u);
  EXPECT_EQ(site1["targets"][0]["path"], "\\\\web1\\content\\Site1");
  EXPECT_EQ(site1["targets"][0]["priorityClass"], "globalHigh");
  EXPECT_EQ(site1["targets"][1]["priorityClass"], "globalLow");
  EXPECT_EQ(site1["targets"][1]["priorityRank"], 5);
  EXPECT_EQ(site1["targets"][1]["site"], "Backup-DC");
  EXPECT_EQ(site1["targets"][1]["state"], "offline");

  auto text = Ok({"show", "\\\\contoso\\webfarm"});
  EXPECT_NE(text.out.find("first among all targets"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("\\\\ns1\\webfarm"), std::string::npos);
}

TEST_F(DfsutilTest, AliasLetsTheFqdnReachTheNetbiosNamespace) {
  Ok({"root", "add", "\\\\OW\\webfarm"});
  Ok({"link", "add", "\\\\OW\\webfarm\\Site1", "\\\\web1\\c"});
  auto before = Dfsutil({"show", "\\\\orcsweb.com\\webfarm"});
  EXPECT_EQ(before.exit_code, 1);
  EXPECT_NE(before.err.find("domain alias add OW orcsweb.com"),
            std::string::npos)
      << before.err;
  Ok({"domain", "alias", "add", "OW", "orcsweb.com"});
  EXPECT_EQ(ShowJson("\\\\orcsweb.com\\webfarm\\site1")["folders"][0]["folder"],
            "Site1");
  auto list = Ok({"--json", "domain", "alias", "list"});
  EXPECT_EQ(json::parse(list.out)["aliases"][0]["alias"], "orcsweb.com");
}

TEST_F(DfsutilTest, BadInputIsOneLineErrorAndNonZeroExit) {
  Ok({"root", "add", "\\\\contoso\\webfarm"});
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  } cases[] = {
      {{"link", "add", "\\\\contoso\\webfarm\\..\\x", "\\\\w\\s"},
       1,
       "'..' is not allowed"},
      {{"link", "add", "\\\\contoso\\webfarm\\S", "not-unc"},
       1,
       "not a UNC path"},
      {{"link", "add", "\\\\nope\\webfarm\\S", "\\\\w\\s"},
       1,
       "no namespace root"},
      {{"property", "ttl", "set", "\\\\contoso\\webfarm", "soon"},
       1,
       "not a whole number"},
      {{"property", "priority", "set", "\\\\contoso\\webfarm", "\\\\w\\s",
        "urgent"},
       1,
       "priority class"},
      {{"property", "priority", "set", "\\\\contoso\\webfarm", "\\\\w\\s",
        "first", "99"},
       1,
       "out of range"},
      {{"root", "add", "\\\\contoso\\webfarm"}, 1, "already exists"},
      {{"root", "frobnicate"}, 2, "error"},
      {{"property", "ttl", "set", "\\\\contoso\\webfarm"}, 2, "error"},
  };
  for (const auto& c : cases) {
    auto r = Dfsutil(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code)
        << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // Nothing above changed the store.
  auto log = json::parse(Ok({"--json", "log"}).out);
  EXPECT_EQ(log["changes"].size(), 1u);
}

TEST_F(DfsutilTest, JsonErrorsAreMachineReadable) {
  auto r = Dfsutil({"--json", "show", "\\\\nope\\root"});
  EXPECT_EQ(r.exit_code, 1);
  json j = json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["code"], "not found");
}

TEST_F(DfsutilTest, ReadingAMissingStoreSaysSo) {
  auto r = testing::Run({DFSUTIL_PATH, "--store",
                         (store_.path() / "none").string(), "root", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no namespace store"), std::string::npos) << r.err;
  auto no_store = testing::Run({DFSUTIL_PATH, "root", "list"});
  EXPECT_NE(no_store.exit_code, 0);
}

TEST_F(DfsutilTest, EveryCommandHasHelp) {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"root"},
      {"root", "add"},
      {"root", "remove"},
      {"root", "list"},
      {"link", "add"},
      {"link", "remove"},
      {"target", "add"},
      {"target", "remove"},
      {"property", "ttl", "set"},
      {"property", "failback", "set"},
      {"property", "state", "set"},
      {"property", "priority", "set"},
      {"property", "ordering", "set"},
      {"property", "comment", "set"},
      {"property", "site", "set"},
      {"domain", "alias", "add"},
      {"domain", "alias", "remove"},
      {"domain", "alias", "list"},
      {"show"},
      {"log"},
      {"store", "info"}};
  for (auto args : commands) {
    args.insert(args.begin(), DFSUTIL_PATH);
    args.push_back("--help");
    auto r = testing::Run(args);
    EXPECT_EQ(r.exit_code, 0) << args.size();
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

TEST_F(DfsutilTest, RemovingThingsAndListing) {
  Ok({"root", "add", "\\\\contoso\\webfarm", "--ttl", "120", "--comment",
      "farm"});
  Ok({"root", "add", "\\\\contoso\\intranet"});
  Ok({"link", "add", "\\\\contoso\\webfarm\\A", "\\\\w1\\a", "--priority",
      "high", "--rank", "2"});
  Ok({"target", "add", "\\\\contoso\\webfarm\\A", "\\\\w2\\a", "--site",
      "east"});
  Ok({"target", "remove", "\\\\contoso\\webfarm\\A", "\\\\w1\\a"});
  json roots = json::parse(Ok({"--json", "root", "list"}).out)["roots"];
  ASSERT_EQ(roots.size(), 2u);
  EXPECT_EQ(roots[1]["ttl"], 120);
  EXPECT_EQ(roots[1]["folderCount"], 1);
  Ok({"link", "remove", "\\\\contoso\\webfarm\\A"});
  Ok({"root", "remove", "\\\\contoso\\intranet"});
  EXPECT_EQ(json::parse(Ok({"--json", "root", "list"}).out)["roots"].size(),
            1u);
  json info = json::parse(Ok({"--json", "store", "info"}).out);
  EXPECT_EQ(info["serial"], 7);
  EXPECT_EQ(info["folders"], 0);
}

// Several dfsutil processes write one store while others read it: LMDB
// serialises the writers, every change gets its own serial, and readers
// always see a consistent namespace.
TEST_F(DfsutilTest, SeveralProcessesShareOneStore) {
  Ok({"root", "add", "\\\\contoso\\webfarm"});
  constexpr int kWriters = 4, kEach = 15, kReaders = 2;
  std::vector<std::vector<std::string>> work;
  for (int i = 0; i < kEach; ++i) {
    for (int w = 0; w < kWriters; ++w) {
      work.push_back(Args({"link", "add",
                           "\\\\contoso\\webfarm\\W" + std::to_string(w) + "_" +
                               std::to_string(i),
                           "\\\\web" + std::to_string(w) + "\\c"}));
    }
    for (int r = 0; r < kReaders; ++r)
      work.push_back(Args({"--json", "show", "\\\\contoso\\webfarm"}));
  }
  // Launch in waves of kWriters + kReaders processes running together.
  const size_t wave = kWriters + kReaders;
  size_t last_seen = 0;
  for (size_t start = 0; start < work.size(); start += wave) {
    std::vector<testing::Subprocess> procs;
    procs.reserve(wave);
    for (size_t i = start; i < std::min(work.size(), start + wave); ++i)
      procs.emplace_back(work[i]);
    for (auto& p : procs) {
      auto r = p.Wait();
      ASSERT_EQ(r.exit_code, 0) << r.err;
      if (r.out.front() == '{' &&
          r.out.find("\"folders\"") != std::string::npos) {
        json j = json::parse(r.out);
        // A snapshot's folder count equals its serial minus the root add.
        EXPECT_EQ(j["folders"].size() + 1, j["serial"].get<size_t>());
        last_seen = std::max(last_seen, j["folders"].size());
      }
    }
  }
  json root = ShowJson("\\\\contoso\\webfarm");
  EXPECT_EQ(root["folders"].size(), size_t{kWriters * kEach});
  EXPECT_EQ(root["serial"], 1 + kWriters * kEach);
  json log =
      json::parse(Ok({"--json", "log", "--limit", "1000"}).out)["changes"];
  ASSERT_EQ(log.size(), size_t{1 + kWriters * kEach});
  for (size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i]["serial"], i + 1);
  EXPECT_GT(last_seen, 0u);
}

}  // namespace
}  // namespace dfs
