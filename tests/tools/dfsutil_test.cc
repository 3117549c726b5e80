// Integration tests: the real dfsutil binary against real LMDB stores,
// including several processes writing and reading one store at once.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
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

// Issue 11: a property that takes two or three words said "ARGS(2x)".
TEST_F(DfsutilTest, Issue11HelpShowsTheWordsACommandTakes) {
  auto r = testing::Run({DFSUTIL_PATH, "property", "state", "set", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("set [OPTIONS] PATH [TARGET] online|offline"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("2x"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("x 2"), std::string::npos) << r.out;
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

namespace dfs {
namespace {

using nlohmann::json;

class DfsutilXmlTest : public DfsutilTest {
 protected:
  void SetUp() override {
    Ok({"root", "add", "\\\\OW\\webfarm"});
    Ok({"target", "add", "\\\\OW\\webfarm", "\\\\ns1\\webfarm"});
    Ok({"link", "add", "\\\\OW\\webfarm\\Site1", "\\\\web1\\content\\Site1",
        "--priority", "first"});
    Ok({"target", "add", "\\\\OW\\webfarm\\Site1", "\\\\web2\\content\\R&D",
        "--priority", "last"});
    Ok({"link", "add", "\\\\OW\\webfarm\\Site2", "\\\\web1\\content\\Site2"});
    Ok({"property", "comment", "set", "\\\\OW\\webfarm\\Site2",
        "Café & \"bar\""});
  }
  std::string File(const std::string& name) {
    return (files_.path() / name).string();
  }
  std::string Serial() {
    return json::parse(Ok({"--json", "store", "info"}).out)["serial"].dump();
  }
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  testing::TempDir files_;
};

TEST_F(DfsutilXmlTest, ExportImportRoundTripsThroughAnEmptyStore) {
  for (bool downlevel : {false, true}) {
    std::string xml = File(downlevel ? "down.xml" : "new.xml");
    std::vector<std::string> args = {"root", "export", "\\\\OW\\webfarm", xml};
    if (downlevel) args.push_back("--downlevel");
    Ok(args);
    testing::TempDir other;
    auto into = [&](std::vector<std::string> rest) {
      std::vector<std::string> argv = {DFSUTIL_PATH, "--store",
                                       other.path().string()};
      argv.insert(argv.end(), rest.begin(), rest.end());
      return testing::Run(argv);
    };
    auto missing = into({"root", "import", "set", xml, "\\\\OW\\webfarm"});
    EXPECT_EQ(missing.exit_code, 1);
    auto created =
        into({"root", "import", "set", "--create", xml, "\\\\OW\\webfarm"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    auto shown = json::parse(into({"--json", "show", "\\\\OW\\webfarm"}).out);
    auto original = ShowJson("\\\\OW\\webfarm");
    shown.erase("serial");
    original.erase("serial");
    EXPECT_EQ(shown, original);
    EXPECT_EQ(
        into({"root", "import", "compare", xml, "\\\\OW\\webfarm"}).exit_code,
        0);
  }
}

TEST_F(DfsutilXmlTest, MissingRootIsNamedAndCreateMakesIt) {
  Ok({"root", "export", "\\\\OW\\webfarm", File("e.xml")});
  testing::TempDir other;
  ASSERT_EQ(testing::Run({DFSUTIL_PATH, "--store", other.path().string(),
                          "root", "add", "\\\\elsewhere\\root"})
                .exit_code,
            0);
  auto r = testing::Run({DFSUTIL_PATH, "--store", other.path().string(), "root",
                         "import", "merge", File("e.xml"), "\\\\OW\\webfarm"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("\\\\OW\\webfarm"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--create"), std::string::npos) << r.err;
  auto created = testing::Run({DFSUTIL_PATH, "--store", other.path().string(),
                               "root", "import", "merge", "--create",
                               File("e.xml"), "\\\\OW\\webfarm"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto roots =
      json::parse(testing::Run({DFSUTIL_PATH, "--store", other.path().string(),
                                "--json", "root", "list"})
                      .out)["roots"];
  ASSERT_EQ(roots.size(), 2u);
  EXPECT_EQ(roots[1]["folderCount"], 2);
}

// Seed 003's failure: exported as \\OW\webfarm, imported as
// \\orcsweb.com\webfarm ("System error 1168: Element not found").
TEST_F(DfsutilXmlTest, NetbiosExportImportsUnderTheFqdnAndBack) {
  Ok({"root", "export", "\\\\OW\\webfarm", File("ow.xml")});
  auto before = Dfsutil(
      {"root", "import", "set", File("ow.xml"), "\\\\orcsweb.com\\webfarm"});
  EXPECT_EQ(before.exit_code, 1);
  EXPECT_NE(before.err.find("no namespace root \\\\orcsweb.com\\webfarm"),
            std::string::npos)
      << before.err;
  EXPECT_NE(before.err.find("domain alias add OW orcsweb.com"),
            std::string::npos)
      << before.err;
  Ok({"domain", "alias", "add", "OW", "orcsweb.com"});
  Ok({"link", "remove", "\\\\OW\\webfarm\\Site2"});
  Ok({"root", "import", "set", File("ow.xml"), "\\\\orcsweb.com\\webfarm"});
  EXPECT_EQ(ShowJson("\\\\OW\\webfarm")["folders"].size(), 2u);
  // The other way round: a file naming the FQDN into the NetBIOS name.
  Ok({"root", "export", "\\\\orcsweb.com\\webfarm", File("fqdn.xml")});
  std::string text;
  {
    std::ifstream in(File("fqdn.xml"));
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto at = text.find("\\\\OW\\webfarm");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\\\\orcsweb.com\\webfarm");
  Write(File("fqdn.xml"), text);
  auto r =
      Ok({"root", "import", "compare", File("fqdn.xml"), "\\\\ow\\webfarm"});
  EXPECT_NE(r.out.find("equal"), std::string::npos);
  // A real mismatch says which names differ.
  Ok({"root", "add", "\\\\fabrikam\\webfarm"});
  auto wrong = Dfsutil(
      {"root", "import", "set", File("fqdn.xml"), "\\\\fabrikam\\webfarm"});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(
      wrong.err.find("hosts orcsweb.com and fabrikam are different domains"),
      std::string::npos)
      << wrong.err;
}

TEST_F(DfsutilXmlTest, MalformedFilesChangeNothing) {
  Ok({"root", "export", "\\\\OW\\webfarm", File("good.xml")});
  std::string good;
  {
    std::ifstream in(File("good.xml"));
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string serial = Serial();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not xml at all", "not well-formed"},
      {good.substr(0, good.size() / 2), "line "},
      {"<Other Name=\"\\\\OW\\webfarm\"/>", "not <Root>"},
      {std::string(good).replace(good.find("Timeout=\"300\""), 13,
                                 "Timeout=\"x\""),
       "Timeout=\"x\""},
  };
  for (const auto& [text, says] : bad) {
    Write(File("bad.xml"), text);
    for (const char* mode : {"set", "merge"}) {
      auto r =
          Dfsutil({"root", "import", mode, File("bad.xml"), "\\\\OW\\webfarm"});
      EXPECT_EQ(r.exit_code, 1) << says;
      EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(Serial(), serial);
  EXPECT_EQ(
      Ok({"root", "import", "compare", File("good.xml"), "\\\\OW\\webfarm"})
          .exit_code,
      0);
}

TEST_F(DfsutilXmlTest, SetReplacesMergeAddsCompareReports) {
  Ok({"root", "export", "\\\\OW\\webfarm", File("base.xml")});
  // Change the store: a new folder, a changed TTL, a removed folder.
  Ok({"link", "add", "\\\\OW\\webfarm\\Site3", "\\\\web3\\c"});
  Ok({"property", "ttl", "set", "\\\\OW\\webfarm\\Site1", "60"});
  Ok({"link", "remove", "\\\\OW\\webfarm\\Site2"});

  auto cmp = Dfsutil({"--json", "root", "import", "compare", File("base.xml"),
                      "\\\\OW\\webfarm"});
  EXPECT_EQ(cmp.exit_code, 1);
  json diff = json::parse(cmp.out);
  EXPECT_EQ(diff["equal"], false);
  ASSERT_EQ(diff["folders"].size(), 3u);
  EXPECT_EQ(diff["folders"][0]["change"], "changed");
  EXPECT_EQ(diff["folders"][0]["details"][0], "ttl: 60 -> 1800");
  EXPECT_EQ(diff["folders"][1]["change"], "added");  // Site2 only in the file
  EXPECT_EQ(diff["folders"][2]["change"],
            "removed");  // Site3 only in the store

  // merge: Site2 comes back, Site1's TTL returns, Site3 stays.
  auto merged = json::parse(Ok({"--json", "root", "import", "merge",
                                File("base.xml"), "\\\\OW\\webfarm"})
                                .out);
  EXPECT_EQ(merged["added"], 1);
  EXPECT_EQ(merged["changed"], 1);
  EXPECT_EQ(merged["removed"], 0);
  EXPECT_EQ(ShowJson("\\\\OW\\webfarm")["folders"].size(), 3u);

  // set: Site3 goes, and what it replaced is backed up.
  auto set = json::parse(
      Ok({"--json", "root", "import", "set", "--backup-dir",
          files_.path().string(), File("base.xml"), "\\\\OW\\webfarm"})
          .out);
  EXPECT_EQ(set["removed"], 1);
  ASSERT_TRUE(set["backup"].is_string());
  EXPECT_EQ(
      Ok({"root", "import", "compare", File("base.xml"), "\\\\OW\\webfarm"})
          .exit_code,
      0);
  // The backup holds Site3, which set removed.
  auto back = Dfsutil({"--json", "root", "import", "compare",
                       set["backup"].get<std::string>(), "\\\\OW\\webfarm"});
  EXPECT_EQ(back.exit_code, 1);
  EXPECT_NE(back.out.find("Site3"), std::string::npos);
  // Importing the same file again changes nothing and keeps the serial.
  const std::string serial = Serial();
  Ok({"root", "import", "set", File("base.xml"), "\\\\OW\\webfarm"});
  EXPECT_EQ(Serial(), serial);
}

TEST_F(DfsutilXmlTest, MergeRefusesToNestFolders) {
  Write(File("nest.xml"),
        "<Root Name=\"\\\\OW\\webfarm\"><Link "
        "Name=\"Site1\\Inner\"><Target>\\\\w\\s</Target></Link></Root>");
  const std::string serial = Serial();
  auto r =
      Dfsutil({"root", "import", "merge", File("nest.xml"), "\\\\OW\\webfarm"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot nest"), std::string::npos) << r.err;
  EXPECT_EQ(Serial(), serial);
}

TEST_F(DfsutilXmlTest, WarningsGoToStderrAndImportGoesOn) {
  Write(File("amp.xml"),
        "<?xml version=\"1.0\"?>\r\n<Root Name=\"\\\\OW\\webfarm\" State=\"1\" "
        "Timeout=\"300\" Attributes=\"64\" Odd=\"1\">\r\n"
        "  <Link Name=\"Site9\" State=\"1\" Timeout=\"1800\">\r\n"
        "    <Target Server=\"files\" Folder=\"R&D\" State=\"2\"/>\r\n  "
        "</Link>\r\n</Root>\r\n");
  auto r = Ok({"root", "import", "merge", File("amp.xml"), "\\\\OW\\webfarm"});
  EXPECT_NE(r.err.find("warning"), std::string::npos);
  EXPECT_NE(r.err.find("bare '&'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Odd"), std::string::npos) << r.err;
  auto site9 = ShowJson("\\\\OW\\webfarm\\Site9");
  EXPECT_EQ(site9["folders"][0]["targets"][0]["path"], "\\\\files\\R&D");
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

using nlohmann::json;

class DiagReferralTest : public DfsutilTest {
 protected:
  void SetUp() override {
    Ok({"root", "add", "\\\\contoso\\webfarm"});
    Ok({"target", "add", "\\\\contoso\\webfarm", "\\\\ns1\\webfarm"});
    Ok({"link", "add", "\\\\contoso\\webfarm\\Site1",
        "\\\\web2\\content\\Site1", "--priority", "last"});
    Ok({"target", "add", "\\\\contoso\\webfarm\\Site1",
        "\\\\web1\\content\\Site1", "--priority", "first"});
    Ok({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "60"});
    Ok({"property", "failback", "set", "\\\\contoso\\webfarm", "on"});
  }
};

TEST_F(DiagReferralTest, ShowsWhatTheServerWouldAnswer) {
  json r = json::parse(Ok({"--json", "diag", "referral",
                           "\\contoso\\webfarm\\Site1\\index.html"})
                           .out);
  EXPECT_EQ(r["referral"], "folder");
  EXPECT_EQ(r["dfsPath"], "\\contoso\\webfarm\\Site1");
  EXPECT_EQ(r["pathConsumedBytes"], 44);
  EXPECT_EQ(r["ttl"], 60);
  EXPECT_EQ(r["failback"], true);
  ASSERT_EQ(r["targets"].size(), 2u);
  EXPECT_EQ(r["targets"][0]["path"], "\\web1\\content\\Site1");
  EXPECT_EQ(r["targets"][1]["path"], "\\web2\\content\\Site1");
  json root =
      json::parse(Ok({"--json", "diag", "referral", "\\contoso\\webfarm"}).out);
  EXPECT_EQ(root["referral"], "root");
  EXPECT_EQ(root["targets"][0]["path"], "\\ns1\\webfarm");
  auto missing = Dfsutil({"diag", "referral", "\\nope\\x"});
  EXPECT_EQ(missing.exit_code, 1);
}

// The bytes we put on the wire, read by an independent decoder: Samba's
// ndrdump (Debian package samba-testsuite, installed by scripts/setup.sh).
TEST_F(DiagReferralTest, SambaDecodesOurV3AndV4Bytes) {
  for (const char* level : {"3", "4"}) {
    const std::string raw =
        (store_.path() / (std::string("resp") + level + ".bin")).string();
    Ok({"diag", "referral", "\\contoso\\webfarm\\Site1\\a", "--level", level,
        "--raw", raw});
    auto dump = testing::Run(
        {"/usr/bin/ndrdump", "dfsblobs", "dfs_referral_resp", "struct", raw});
    ASSERT_EQ(dump.exit_code, 0) << dump.out << dump.err;
    EXPECT_NE(dump.out.find("path_consumed            : 0x002c (44)"),
              std::string::npos)
        << dump.out;
    EXPECT_NE(dump.out.find("nb_referrals             : 0x0002 (2)"),
              std::string::npos);
    EXPECT_NE(
        dump.out.find(std::string("version                  : 0x000") + level),
        std::string::npos);
    EXPECT_NE(dump.out.find("ttl                      : 0x0000003c (60)"),
              std::string::npos);
    EXPECT_NE(dump.out.find("DFS_HEADER_FLAG_TARGET_BCK"), std::string::npos);
    EXPECT_NE(
        dump.out.find("DFS_path                 : '\\contoso\\webfarm\\Site1'"),
        std::string::npos);
    const size_t first =
        dump.out.find("netw_address             : '\\web1\\content\\Site1'");
    const size_t second =
        dump.out.find("netw_address             : '\\web2\\content\\Site1'");
    ASSERT_NE(first, std::string::npos) << dump.out;
    ASSERT_NE(second, std::string::npos);
    EXPECT_LT(first, second);
  }
}

// Wraps RESP_GET_DFS_REFERRAL bytes as Windows sends them, in an SMB2 IOCTL
// response (FSCTL_DFS_GET_REFERRALS) on TCP port 445, in a one-packet
// pcap, so Wireshark's own SMB2 dissector can read them.
std::string PcapOfSmb2Referral(const std::string& payload) {
  auto le16 = [](std::string& s, uint16_t v) {
    s += char(v & 0xff);
    s += char(v >> 8);
  };
  auto le32 = [&](std::string& s, uint32_t v) {
    le16(s, v & 0xffff);
    le16(s, v >> 16);
  };
  auto be16 = [](std::string& s, uint16_t v) {
    s += char(v >> 8);
    s += char(v & 0xff);
  };
  auto be32 = [&](std::string& s, uint32_t v) {
    be16(s, v >> 16);
    be16(s, v & 0xffff);
  };
  std::string smb = "\xfeSMB";
  le16(smb, 64);      // StructureSize
  le16(smb, 1);       // CreditCharge
  le32(smb, 0);       // Status
  le16(smb, 0x000B);  // Command: IOCTL
  le16(smb, 1);       // Credits
  le32(smb, 1);       // Flags: SERVER_TO_REDIR
  le32(smb, 0);       // NextCommand
  smb += std::string(8, '\0');
  smb[28] = 5;                   // MessageId
  le32(smb, 0xFEFF);             // Reserved
  le32(smb, 0);                  // TreeId
  smb += std::string(8, '\0');   // SessionId
  smb += std::string(16, '\0');  // Signature
  le16(smb, 49);                 // IOCTL response StructureSize
  le16(smb, 0);
  le32(smb, 0x00060194);           // FSCTL_DFS_GET_REFERRALS
  smb += std::string(16, '\xff');  // FileId
  le32(smb, 64 + 48);              // InputOffset
  le32(smb, 0);                    // InputCount
  le32(smb, 64 + 48);              // OutputOffset
  le32(smb, static_cast<uint32_t>(payload.size()));
  le32(smb, 0);
  le32(smb, 0);
  smb += payload;
  std::string tcp;
  be16(tcp, 445);
  be16(tcp, 50000);
  be32(tcp, 1);
  be32(tcp, 1);
  tcp += char(5 << 4);
  tcp += char(0x18);
  be16(tcp, 65535);
  be16(tcp, 0);
  be16(tcp, 0);
  std::string nbss;
  be32(nbss, static_cast<uint32_t>(smb.size()));
  nbss += smb;
  std::string ip;
  ip += char(0x45);
  ip += char(0);
  be16(ip, static_cast<uint16_t>(20 + tcp.size() + nbss.size()));
  be16(ip, 1);
  be16(ip, 0);
  ip += char(64);
  ip += char(6);
  be16(ip, 0);
  ip += std::string("\x7f\x00\x00\x01\x7f\x00\x00\x02", 8);
  std::string frame =
      std::string(11, '\0') + std::string("\x01\x08\x00", 3) + ip + tcp + nbss;
  std::string pcap;
  le32(pcap, 0xa1b2c3d4);
  le16(pcap, 2);
  le16(pcap, 4);
  le32(pcap, 0);
  le32(pcap, 0);
  le32(pcap, 65535);
  le32(pcap, 1);
  le32(pcap, 0);
  le32(pcap, 0);
  le32(pcap, static_cast<uint32_t>(frame.size()));
  le32(pcap, static_cast<uint32_t>(frame.size()));
  return pcap + frame;
}

TEST_F(DiagReferralTest, WiresharkDecodesOurBytesInsideSmb2) {
  const std::string raw = (store_.path() / "resp.bin").string();
  Ok({"diag", "referral", "\\contoso\\webfarm\\Site1\\a", "--level", "4",
      "--raw", raw});
  std::ifstream in(raw, std::ios::binary);
  std::string payload((std::istreambuf_iterator<char>(in)), {});
  const std::string pcap = (store_.path() / "referral.pcap").string();
  std::ofstream(pcap, std::ios::binary) << PcapOfSmb2Referral(payload);
  auto dump = testing::Run({"/usr/bin/tshark", "-r", pcap, "-V"});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("FSCTL_DFS_GET_REFERRALS"), std::string::npos)
      << dump.out;
  EXPECT_NE(dump.out.find("Path Consumed: 44"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find("Num Referrals: 2"), std::string::npos);
  EXPECT_NE(dump.out.find("TTL: 60"), std::string::npos);
  const size_t first = dump.out.find("Node: \\web1\\content\\Site1");
  const size_t second = dump.out.find("Node: \\web2\\content\\Site1");
  ASSERT_NE(first, std::string::npos) << dump.out;
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_EQ(dump.out.find("Malformed"), std::string::npos) << dump.out;
}

}  // namespace
}  // namespace dfs

namespace dfs::tools {
namespace {

// Issue 12: a damaged store is refused, never read in part.
class DamagedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // 5,000 folders, imported in one transaction.
    std::string xml = "<?xml version=\"1.0\"?>\n<Root Name=\"\\\\c\\w\">\n";
    for (int i = 0; i < 5000; ++i) {
      xml += "<Link Name=\"Folder" + std::to_string(i) +
             "\"><Target>\\\\server" + std::to_string(i % 7) + "\\share" +
             std::to_string(i) + "</Target></Link>\n";
    }
    xml += "</Root>\n";
    const auto file = store_.path() / "ns.xml";
    std::ofstream(file) << xml;
    ASSERT_EQ(Run({"root", "add", "\\\\c\\w"}).exit_code, 0);
    auto imported = Run(
        {"root", "import", "set", file.string(), "\\\\c\\w", "--no-backup"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }
  testing::ProcessResult Run(std::vector<std::string> rest,
                             const std::filesystem::path& store = {}) {
    rest.insert(rest.begin(),
                {DFSUTIL_PATH, "--store",
                 (store.empty() ? store_.path() / "s" : store).string()});
    return testing::RunWithin(rest, std::chrono::seconds(60));
  }
  // A copy of the store with `damage` done to its data.mdb.
  std::filesystem::path Damaged(
      const std::function<void(std::fstream&, size_t size)>& damage) {
    const auto copy = store_.path() / ("bad" + std::to_string(++copies_));
    std::filesystem::copy(store_.path() / "s", copy);
    const auto file = copy / "data.mdb";
    const size_t size = std::filesystem::file_size(file);
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    damage(f, size);
    return copy;
  }
  // What a user meets: verify names the damage (exit 1), and reads that
  // would print a partial namespace fail instead, printing none of it.
  void ExpectRefused(const std::filesystem::path& bad) {
    auto verify = Run({"store", "verify"}, bad);
    EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
    EXPECT_NE(verify.err.find("damaged"), std::string::npos) << verify.err;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"show", "\\\\c\\w"},
             {"root", "export", "\\\\c\\w", "-"},
             {"link", "add", "\\\\c\\w\\New", "\\\\s\\new"}}) {
      auto r = Run(args, bad);
      EXPECT_NE(r.exit_code, 0) << args[0];
      EXPECT_FALSE(r.timed_out);
      EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
      EXPECT_EQ(r.out.find("Folder"), std::string::npos) << args[0];
    }
  }
  testing::TempDir store_;
  int copies_ = 0;
};

TEST_F(DamagedStoreTest, Issue12AWholeStoreVerifies) {
  auto r = Run({"--json", "store", "verify"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["folders"], 5000);
  EXPECT_EQ(j["roots"], 1);
}

TEST_F(DamagedStoreTest, Issue12TruncatedOverwrittenAndZeroedPagesAreRefused) {
  const size_t page = 4096;
  // Truncated to 16 KiB (a full disk, a bad copy): SIGBUS before.
  auto truncated = Damaged([](std::fstream&, size_t) {});
  std::filesystem::resize_file(truncated / "data.mdb", 16 * 1024);
  ExpectRefused(truncated);
  // Twenty pages overwritten with 0xFF: before, show and export exited 0
  // with part of the namespace.
  ExpectRefused(Damaged([&](std::fstream& f, size_t size) {
    for (size_t i = 0; i < 20; ++i) {
      f.seekp(static_cast<std::streamoff>((3 + (i * 37) % (size / page - 3)) *
                                          page));
      f << std::string(page, '\xff');
    }
  }));
  // Zeroed pages: an LMDB assertion aborted with no word of the store.
  ExpectRefused(Damaged([&](std::fstream& f, size_t size) {
    for (size_t p = 5; p < size / page; p += 7) {
      f.seekp(static_cast<std::streamoff>(p * page));
      f << std::string(page, '\0');
    }
  }));
}

// Issue 12: `root import compare` said 1 ("different") for a file it
// could not read; errors are 2.
TEST_F(DamagedStoreTest, Issue12CompareSaysTwoForAnError) {
  const auto bad = store_.path() / "bad.xml";
  std::ofstream(bad) << "<Root Name=\"\\\\c\\w\"><Link Name=\"A&#0;\">";
  auto r = Run({"root", "import", "compare", bad.string(), "\\\\c\\w"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("&#0;"), std::string::npos) << r.err;
  const auto same = store_.path() / "same.xml";
  auto exported = Run({"root", "export", "\\\\c\\w", same.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(
      Run({"root", "import", "compare", same.string(), "\\\\c\\w"}).exit_code,
      0);
}

// Issue 12: a full disk said "Input/output error", and the failed import
// left a backup of a namespace that was never replaced. The store lives
// on a 1 MiB tmpfs the test mounts (root only).
TEST(FullDiskTest, Issue12AFullDiskIsSaidAndLeavesNoBackup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  testing::TempDir dir;
  const auto small = dir.path() / "small";
  std::filesystem::create_directories(small);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << strerror(errno);
  }
  struct Unmount {
    std::filesystem::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{small};
  const auto store = (small / "s").string();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {DFSUTIL_PATH, "--store", store});
    return testing::Run(args);
  };
  ASSERT_EQ(run({"root", "add", "\\\\c\\w"}).exit_code, 0);
  ASSERT_EQ(run({"link", "add", "\\\\c\\w\\Keep", "\\\\s\\keep"}).exit_code, 0);
  std::string xml = "<Root Name=\"\\\\c\\w\">\n";
  for (int i = 0; i < 20000; ++i) {
    xml += "<Link Name=\"F" + std::to_string(i) + "\"><Target>\\\\s\\share" +
           std::to_string(i) + "</Target></Link>\n";
  }
  xml += "</Root>\n";
  const auto file = dir.path() / "big.xml";
  std::ofstream(file) << xml;
  const auto backups = dir.path() / "backups";
  auto r = run({"root", "import", "set", file.string(), "\\\\c\\w",
                "--backup-dir", backups.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is full"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Input/output error"), std::string::npos) << r.err;
  EXPECT_TRUE(!std::filesystem::exists(backups) ||
              std::filesystem::is_empty(backups));
  // Nothing was changed, and the store is whole.
  EXPECT_EQ(run({"store", "verify"}).exit_code, 0);
  auto shown = run({"show", "\\\\c\\w"});
  EXPECT_NE(shown.out.find("Keep"), std::string::npos);
  EXPECT_EQ(shown.out.find("F19999"), std::string::npos);
}

}  // namespace
}  // namespace dfs::tools
