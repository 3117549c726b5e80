// Integration: three real dfsrd processes on 127.0.0.1, each with its own
// folder and state, started, stopped, killed and lied to. Every wait is a
// bounded poll for a condition on disk; nothing sleeps to pass.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "connection.h"
#include "dfs/repl/hash.h"
#include "dfs/repl/index.h"
#include "testing/daemon.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/random_bytes.h"
#include "testing/temp_dir.h"

namespace dfs::dfsrd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Tree = std::map<std::string, std::string>;  // path -> content hash

// A port nothing listens on, never one this process handed out before
// (the kernel may give a just-released port again).
uint16_t FreePortOnce();
uint16_t FreePort() {
  static std::set<uint16_t> handed_out;
  for (;;) {
    const uint16_t port = FreePortOnce();
    if (handed_out.insert(port).second) return port;
  }
}
uint16_t FreePortOnce() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string HashOf(const fs::path& path) {
  const std::string bytes = ReadFile(path);
  return repl::HashBytes(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size())
      .Hex();
}

// Polls `done` every 20 ms until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

class Group {
 public:
  explicit Group(size_t members) {
    key_ = tmp_.path() / "group.key";
    WriteFile(key_, "0123456789abcdef0123456789abcdef-group-key");
    fs::permissions(key_, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
    for (size_t i = 0; i < members; ++i) {
      names_.push_back("web" + std::to_string(i + 1));
      ports_.push_back(FreePort());
      fs::create_directories(Folder(i));
    }
    daemons_.resize(members);
    for (size_t i = 0; i < members; ++i) WriteConfig(i, key_);
  }
  ~Group() {
    for (auto& d : daemons_) d.reset();
  }

  fs::path Folder(size_t i) const { return tmp_.path() / names_[i] / "folder"; }
  fs::path Config(size_t i) const {
    return tmp_.path() / (names_[i] + ".json");
  }
  uint16_t Port(size_t i) const { return ports_[i]; }
  const fs::path& root() const { return tmp_.path(); }

  // The member's config, with `key` as its key file.
  void WriteConfig(size_t i, const fs::path& key,
                   const fs::path& config_path = {},
                   const std::string& extra_json = "") const {
    std::ostringstream members;
    for (size_t m = 0; m < names_.size(); ++m) {
      members << (m ? "," : "") << R"({"name":")" << names_[m]
              << R"(","address":"127.0.0.1:)" << ports_[m] << R"(","folder":")"
              << Folder(m).string() << R"("})";
    }
    std::ostringstream json;
    json << R"({"group":"site1","member":")" << names_[i] << R"(","key_file":")"
         << key.string() << R"(","state_dir":")"
         << (tmp_.path() / names_[i] / "state").string() << R"(","members":[)"
         << members.str()
         << R"(],"scan_interval_ms":100,"poll_interval_ms":50,)"
         << R"("settle_ms":30,"peer_timeout_ms":2000)" << extra_json << "}";
    WriteFile(config_path.empty() ? Config(i) : config_path, json.str());
  }

  void Start(size_t i, const fs::path& config = {},
             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{
        DFSRD_PATH, "--config", (config.empty() ? Config(i) : config).string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    daemons_[i] = std::make_unique<testing::Daemon>(argv);
    auto line = daemons_[i]->ReadLine(10s);
    ASSERT_TRUE(line && line->find("listening") != std::string::npos)
        << daemons_[i]->Stderr();
  }
  void StartAll() {
    for (size_t i = 0; i < names_.size(); ++i) Start(i);
  }
  void Stop(size_t i) {
    if (daemons_[i]) daemons_[i]->Kill(SIGTERM);
  }
  void Kill(size_t i) {
    if (daemons_[i]) daemons_[i]->Kill(SIGKILL);
  }
  void Signal(size_t i, int sig) { kill(daemons_[i]->pid(), sig); }
  // SIGSTOP, returning once every thread has stopped (a hang, for sure).
  bool Freeze(size_t i) { return testing::Freeze(daemons_[i]->pid()); }
  std::string Log(size_t i) const {
    return daemons_[i] ? daemons_[i]->Stderr() : std::string();
  }
  std::string Logs() const {
    std::string all;
    for (size_t i = 0; i < daemons_.size(); ++i) {
      all += "---- " + names_[i] + "\n" + Log(i);
    }
    return all;
  }

  // The folder as content hashes (folders as "dir"), without .dfsrd.
  Tree TreeOf(size_t i) const {
    Tree tree;
    std::error_code ec;
    const fs::path folder = Folder(i);
    for (auto it = fs::recursive_directory_iterator(folder, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const std::string rel =
          it->path().lexically_relative(folder).generic_string();
      if (rel == ".dfsrd") {
        it.disable_recursion_pending();
        continue;
      }
      tree[rel] = it->is_directory() ? "dir" : HashOf(it->path());
    }
    return tree;
  }
  bool Converged(const std::vector<size_t>& members) const {
    const Tree first = TreeOf(members[0]);
    for (size_t m : members) {
      if (TreeOf(m) != first) return false;
    }
    return true;
  }
  std::vector<fs::path> ConflictFiles(size_t i) const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(
             Folder(i) / ".dfsrd" / "conflicts", ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!ec && it->is_regular_file()) out.push_back(it->path());
    }
    return out;
  }

 private:
  testing::TempDir tmp_;
  fs::path key_;
  std::vector<std::string> names_;
  std::vector<uint16_t> ports_;
  std::vector<std::unique_ptr<testing::Daemon>> daemons_;
};

using testing::RandomBytes;

// The status of member `i` as JSON (null when it cannot be read).
nlohmann::json StatusOf(const Group& g, size_t i) {
  auto r = testing::Run(
      {DFSRD_PATH, "status", "--config", g.Config(i).string(), "--json"});
  auto status = nlohmann::json::parse(r.out, nullptr, false);
  return r.exit_code == 0 && !status.is_discarded() ? status : nullptr;
}

TEST(DfsrdTest, CreateModifyRenameAndDeleteOnDifferentMembersConverge) {
  Group g(3);
  WriteFile(g.Folder(0) / "index.html", "<h1>v1</h1>");
  WriteFile(g.Folder(0) / "css" / "site.css", "body { color: red }");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  EXPECT_EQ(ReadFile(g.Folder(2) / "css" / "site.css"), "body { color: red }");

  WriteFile(g.Folder(1) / "index.html", "<h1>v2 from web2</h1>");  // modify
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(g.Folder(0) / "index.html") == "<h1>v2 from web2</h1>" &&
           g.Converged({0, 1, 2});
  })) << g.Logs();

  fs::rename(g.Folder(2) / "css" / "site.css",
             g.Folder(2) / "css" / "main.css");  // rename on web3
  fs::create_directories(g.Folder(2) / "img");
  WriteFile(g.Folder(2) / "img" / "logo.png", RandomBytes(200000, 1));
  ASSERT_TRUE(WaitFor([&] {
    return fs::exists(g.Folder(0) / "css" / "main.css") &&
           !fs::exists(g.Folder(0) / "css" / "site.css") &&
           fs::exists(g.Folder(1) / "img" / "logo.png") &&
           g.Converged({0, 1, 2});
  })) << g.Logs();

  fs::remove(g.Folder(0) / "index.html");  // delete on web1
  fs::remove_all(g.Folder(0) / "img");     // and a folder with a file
  ASSERT_TRUE(WaitFor([&] {
    return !fs::exists(g.Folder(1) / "index.html") &&
           !fs::exists(g.Folder(2) / "img") && g.Converged({0, 1, 2});
  })) << g.Logs();
  EXPECT_EQ(g.TreeOf(1),
            (Tree{{"css", "dir"},
                  {"css/main.css", HashOf(g.Folder(0) / "css" / "main.css")}}));
  // A rename moves no bytes: the renamed file was copied from the local
  // copy of its old name (counters are written every scan: wait for them).
  std::string status;
  EXPECT_TRUE(WaitFor([&] {
    status.clear();
    for (size_t i : {0u, 1u}) {
      auto r = testing::Run(
          {DFSRD_PATH, "status", "--config", g.Config(i).string(), "--json"});
      status += r.out;
    }
    return status.find("\"files_copied_locally\": 1") != std::string::npos;
  })) << status;
}

TEST(DfsrdTest, AFileWrittenJustBeforeStartIsTakenOnceItSettles) {
  Group g(2);
  // Files must be still for 2 s; the full scan (the safety net) comes only
  // every minute, as by default.
  for (size_t i = 0; i < 2; ++i) {
    g.WriteConfig(i, g.root() / "group.key", {},
                  R"(,"scan_interval_ms":60000,"settle_ms":2000)");
  }
  WriteFile(g.Folder(0) / "deployed.html", "written a moment before start");
  g.StartAll();
  // Not at the next full scan a minute later: once it has been still for
  // `settle`.
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadFile(g.Folder(1) / "deployed.html") ==
               "written a moment before start";
      },
      15s))
      << g.Logs();
}

// A member whose disk is full: what it cannot hold is refused whole (no
// partial file anywhere, what it had stays), it keeps running, and it
// catches up once there is room.
TEST(DfsrdTest, AFullDiskLosesNothingAndCatchesUpOnceThereIsRoom) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  Group g(2);
  // web2's folder on a 4 MiB file system of its own.
  const std::string small_fs = g.Folder(1).string();
  ASSERT_EQ(testing::Run({"/bin/mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                          small_fs})
                .exit_code,
            0);
  struct Unmount {
    std::string path;
    ~Unmount() { (void)testing::Run({"/bin/umount", "-l", path}); }
  } unmount{small_fs};
  WriteFile(g.Folder(0) / "index.html", "fits");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); })) << g.Logs();

  const std::string big = RandomBytes(6'000'000, 11);
  WriteFile(g.root() / "big.bin", big);
  fs::rename(g.root() / "big.bin", g.Folder(0) / "big.bin");
  // Refused before anything is written: the space is asked for first.
  ASSERT_TRUE(WaitFor([&] {
    return g.Log(1).find("disk full") != std::string::npos;
  })) << g.Logs();
  // Nothing half-written is visible, what was there is intact, and the
  // member still answers.
  EXPECT_FALSE(fs::exists(g.Folder(1) / "big.bin"));
  EXPECT_EQ(ReadFile(g.Folder(1) / "index.html"), "fits");
  for (const auto& entry : fs::directory_iterator(g.Folder(1))) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "index.html" || name == ".dfsrd") << name;
  }
  EXPECT_TRUE(fs::is_empty(g.Folder(1) / ".dfsrd" / "staging"));
  EXPECT_FALSE(StatusOf(g, 1).is_null());

  // Room again: it arrives, whole.
  ASSERT_EQ(testing::Run({"/bin/mount", "-o", "remount,size=32m", small_fs})
                .exit_code,
            0);
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(g.Folder(1) / "big.bin") == big; }, 30s))
      << g.Logs();
  EXPECT_TRUE(g.Converged({0, 1}));
}

TEST(DfsrdTest, AFolderRenameMovesNoContent) {
  Group g(2);
  for (int i = 0; i < 3; ++i) {
    WriteFile(g.Folder(0) / "assets" / ("a" + std::to_string(i) + ".bin"),
              RandomBytes(100'000, 100 + i));
  }
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); })) << g.Logs();
  auto received = [&] {
    auto status = StatusOf(g, 0);
    return status.is_null() ? nlohmann::json() : status["counters"];
  };
  nlohmann::json before;
  ASSERT_TRUE(WaitFor([&] {
    before = received();
    return !before.is_null();
  }));
  fs::rename(g.Folder(1) / "assets", g.Folder(1) / "static");
  ASSERT_TRUE(WaitFor([&] {
    return fs::exists(g.Folder(0) / "static" / "a2.bin") &&
           !fs::exists(g.Folder(0) / "assets") && g.Converged({0, 1});
  })) << g.Logs();
  // The three files were copied from their old names on web1: records
  // crossed, not their 300 KB.
  nlohmann::json after;
  EXPECT_TRUE(WaitFor([&] {
    after = received();
    return after.value("files_copied_locally", 0) -
               before.value("files_copied_locally", 0) ==
           3;
  })) << after.dump();
  EXPECT_LT(
      after.value("bytes_received", 0) - before.value("bytes_received", 0),
      30'000)
      << after.dump();
}

TEST(DfsrdTest, ConcurrentEditsGiveOneWinnerEverywhereAndKeepTheLoser) {
  Group g(3);
  WriteFile(g.Folder(0) / "page.html", "original");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  // web2 is cut off while web1 and web2 both edit the page.
  g.Stop(1);
  WriteFile(g.Folder(1) / "page.html", "edited on web2 while apart");
  fs::last_write_time(g.Folder(1) / "page.html",
                      fs::file_time_type::clock::now() - 1h);
  WriteFile(g.Folder(0) / "page.html", "edited on web1, later");
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(g.Folder(2) / "page.html") == "edited on web1, later";
  })) << g.Logs();
  g.Start(1);
  // The later edit wins on every member...
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(g.Folder(1) / "page.html") == "edited on web1, later" &&
           g.Converged({0, 1, 2});
  })) << g.Logs();
  // ...and the losing version is kept on the member that held it.
  ASSERT_TRUE(WaitFor([&] { return g.ConflictFiles(1).size() == 1; }))
      << g.Logs();
  const fs::path kept = g.ConflictFiles(1)[0];
  EXPECT_EQ(ReadFile(kept), "edited on web2 while apart");
  EXPECT_NE(kept.filename().string().find("page.html.conflict.web2."),
            std::string::npos)
      << kept;
  EXPECT_TRUE(g.ConflictFiles(0).empty());
  EXPECT_TRUE(g.ConflictFiles(2).empty());
  // Whoever settled it logged the conflict; web2 logged what it kept.
  EXPECT_NE(g.Logs().find("DFSR3030 conflict on page.html"), std::string::npos)
      << g.Logs();
  EXPECT_NE(g.Log(1).find("DFSR3031 kept the losing version of page.html"),
            std::string::npos)
      << g.Log(1);
}

TEST(DfsrdTest, ADeleteWhileAMemberIsDownDoesNotComeBack) {
  Group g(3);
  WriteFile(g.Folder(0) / "old.html", "to be deleted");
  WriteFile(g.Folder(0) / "keep.html", "kept");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  g.Stop(2);
  fs::remove(g.Folder(0) / "old.html");
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(g.Folder(1) / "old.html"); }))
      << g.Logs();
  ASSERT_TRUE(fs::exists(g.Folder(2) / "old.html"));  // web3 was down
  g.Start(2);
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(g.Folder(2) / "old.html"); }))
      << g.Logs();
  // web3 has pulled everything both peers hold (no backlog) and nothing
  // brought the file back anywhere.
  ASSERT_TRUE(WaitFor([&] {
    auto r = testing::Run(
        {DFSRD_PATH, "status", "--config", g.Config(2).string(), "--json"});
    auto status = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || status.is_discarded()) return false;
    for (const auto& peer : status["peers"]) {
      if (peer["backlog_in"] != 0 || peer["last_contact_ms_ago"].is_null()) {
        return false;
      }
    }
    return status["peers"].size() == 2;
  })) << g.Logs();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  EXPECT_FALSE(fs::exists(g.Folder(0) / "old.html"));
  EXPECT_EQ(ReadFile(g.Folder(2) / "keep.html"), "kept");
}

TEST(DfsrdTest,
     AMemberAwayLongerThanATombstoneLivesRejoinsWithoutResurrecting) {
  Group g(3);
  // Tombstones live 3 s here (tombstone_days takes fractions); the scans
  // that purge them run every 100 ms.
  for (size_t i = 0; i < 3; ++i) {
    g.WriteConfig(i, g.root() / "group.key", {},
                  R"(,"tombstone_days":0.0000347)");
  }
  WriteFile(g.Folder(0) / "gone.html", "deleted while web3 was away");
  WriteFile(g.Folder(0) / "back.html", "deleted on web3 before it left");
  WriteFile(g.Folder(0) / "keep.html", "kept");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  fs::remove(g.Folder(2) / "back.html");
  ASSERT_TRUE(WaitFor([&] {
    return !fs::exists(g.Folder(0) / "back.html") &&
           !fs::exists(g.Folder(1) / "back.html");
  })) << g.Logs();
  g.Stop(2);
  fs::remove(g.Folder(0) / "gone.html");
  ASSERT_TRUE(WaitFor([&] { return !fs::exists(g.Folder(1) / "gone.html"); }))
      << g.Logs();
  // Both deletions forgotten on web1 and web2 (their tombstones purged),
  // then back.html made anew: its versions' counters are past anything
  // web3's old deletion of it holds.
  ASSERT_TRUE(WaitFor([&] {
    for (size_t i : {0, 1}) {
      auto status = StatusOf(g, i);
      if (status.is_null() || status["tombstones"] != 0) return false;
    }
    return true;
  })) << g.Logs();
  WriteFile(g.Folder(0) / "back.html", "made anew on web1");
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(g.Folder(1) / "back.html") == "made anew on web1";
  })) << g.Logs();
  ASSERT_TRUE(fs::exists(g.Folder(2) / "gone.html"));  // web3 was away

  // web3 comes back able to serve web1 but not to reach it (its config
  // names a port nobody listens on), web2 down: web1 takes web3's whole
  // index, gone.html in it, before web3 could put its copy aside.
  g.Stop(1);
  auto one_way = nlohmann::json::parse(ReadFile(g.Config(2)));
  one_way["members"][0]["address"] = "127.0.0.1:" + std::to_string(FreePort());
  const fs::path one_way_config = g.root() / "web3-one-way.json";
  WriteFile(one_way_config, one_way.dump());
  g.Start(2, one_way_config);
  ASSERT_TRUE(WaitFor([&] {
    return g.Log(0).find("DFSR3051 rejoined web3") != std::string::npos;
  })) << g.Logs();
  EXPECT_FALSE(fs::exists(g.Folder(0) / "gone.html"));  // not brought back
  EXPECT_TRUE(fs::exists(g.Folder(2) / "gone.html"));
  // web3 saw it was away too long (its rejoin with web1 waits for a link),
  // and says so in its status.
  EXPECT_NE(g.Log(2).find("DFSR3050 out of contact with web1"),
            std::string::npos)
      << g.Logs();
  auto web3_status = StatusOf(g, 2);
  ASSERT_FALSE(web3_status.is_null());
  bool rejoining_web1 = false;
  for (const auto& peer : web3_status["peers"]) {
    if (peer["name"] == "web1") rejoining_web1 = peer["rejoining"].get<bool>();
  }
  EXPECT_TRUE(rejoining_web1) << web3_status.dump();
  g.Stop(2);

  g.Start(1);
  g.Start(2);
  // web3 finishes its rejoin with web1 (and with web2: away from it as
  // long), and the group is in step.
  ASSERT_TRUE(WaitFor([&] {
    return g.Log(2).find("DFSR3051 rejoined web1") != std::string::npos &&
           g.Converged({0, 1, 2});
  })) << g.Logs();
  // Nothing came back; web3's copy of what was deleted meanwhile is kept
  // aside, not lost; the file made anew reached web3.
  for (size_t i : {0, 1, 2}) {
    EXPECT_FALSE(fs::exists(g.Folder(i) / "gone.html")) << i;
    EXPECT_EQ(ReadFile(g.Folder(i) / "back.html"), "made anew on web1") << i;
    EXPECT_EQ(ReadFile(g.Folder(i) / "keep.html"), "kept") << i;
  }
  EXPECT_EQ(ReadFile(g.Folder(2) / ".dfsrd" / "preexisting" / "gone.html"),
            "deleted while web3 was away");
  // And it stays so once every rejoin is done.
  ASSERT_TRUE(WaitFor([&] {
    for (size_t i : {0, 1, 2}) {
      auto status = StatusOf(g, i);
      if (status.is_null()) return false;
      for (const auto& peer : status["peers"]) {
        if (peer["backlog_in"] != 0) return false;
      }
    }
    return g.Log(1).find("DFSR3051 rejoined web3") != std::string::npos;
  })) << g.Logs();
  EXPECT_TRUE(g.Converged({0, 1, 2})) << g.Logs();
  EXPECT_FALSE(fs::exists(g.Folder(0) / "gone.html"));
}

TEST(DfsrdTest, AMemberSendsNoFasterThanItsBandwidth) {
  Group g(2);
  // web1 may send 300,000 bytes a second (2,400 kbps), in bursts of at
  // most 30,000: 1.2 MB of incompressible content takes it 3.9 s at least,
  // a second at most without the limit on this loopback.
  g.WriteConfig(0, g.root() / "group.key", {}, R"(,"bandwidth_kbps":2400)");
  g.StartAll();
  const std::string content = RandomBytes(1'200'000, 42);
  const auto started = std::chrono::steady_clock::now();
  WriteFile(g.Folder(0) / "video.bin", content);
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(g.Folder(1) / "video.bin") == content; }, 60s))
      << g.Logs();
  const auto took = std::chrono::steady_clock::now() - started;
  // A lower bound only: a slow machine makes it longer, never shorter.
  EXPECT_GE(took, std::chrono::milliseconds(3900 - 500));
}

TEST(DfsrdTest, AnEditOnTheBackupWhileThePrimaryIsDownReachesThePrimary) {
  Group g(3);
  WriteFile(g.Folder(0) / "index.html", "primary's version");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  g.Kill(0);  // the primary dies (kill -9)
  WriteFile(g.Folder(1) / "index.html", "fixed on the backup");
  WriteFile(g.Folder(1) / "new.html", "added on the backup");
  ASSERT_TRUE(WaitFor([&] { return g.Converged({1, 2}); })) << g.Logs();
  g.Start(0);
  // What a web server's unit on the primary runs before serving again:
  // it returns once the primary has what its peers have.
  auto waited = testing::Run({DFSRD_PATH, "status", "--config",
                              g.Config(0).string(), "--wait-in-step", "20"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err << g.Logs();
  EXPECT_EQ(ReadFile(g.Folder(0) / "index.html"), "fixed on the backup");
  EXPECT_EQ(ReadFile(g.Folder(0) / "new.html"), "added on the backup");
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  EXPECT_TRUE(g.ConflictFiles(0).empty());
  // With a peer down it cannot be in step: it says so when time is up.
  g.Kill(2);
  auto alone = testing::Run({DFSRD_PATH, "status", "--config",
                             g.Config(0).string(), "--wait-in-step", "1"});
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.err.find("not in step"), std::string::npos) << alone.err;
}

// A member that hangs (SIGSTOP: its sockets stay open, nothing answers)
// costs the others a deadline on their link to it, never their progress.
TEST(DfsrdTest, AHungMemberDoesNotStallTheOthers) {
  Group g(3);
  WriteFile(g.Folder(0) / "index.html", "v1");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
  ASSERT_TRUE(g.Freeze(0));
  WriteFile(g.Folder(1) / "index.html", "v2 while web1 hangs");
  WriteFile(g.Folder(1) / "new.html", "new while web1 hangs");
  const bool reached = WaitFor([&] {
    return ReadFile(g.Folder(2) / "index.html") == "v2 while web1 hangs" &&
           ReadFile(g.Folder(2) / "new.html") == "new while web1 hangs";
  });
  g.Signal(0, SIGCONT);
  ASSERT_TRUE(reached) << g.Logs();
  // Once it answers again it catches up too.
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1, 2}); })) << g.Logs();
}

TEST(DfsrdTest, SigkillMidReceiveLeavesNoPartialFileAndConverges) {
  Group g(2);
  g.StartAll();
  const size_t kSize = size_t{200} << 20;
  const std::string big = RandomBytes(kSize, 7);
  const fs::path staging = g.Folder(1) / ".dfsrd" / "staging";
  auto staging_busy = [&] {
    std::error_code ec;
    return fs::exists(staging, ec) && !fs::is_empty(staging, ec);
  };
  // Written aside and renamed in, so web1 announces it whole.
  WriteFile(g.root() / "big.bin", big);
  fs::rename(g.root() / "big.bin", g.Folder(0) / "big.bin");
  // Catch web2 receiving: then freeze the sender, so the transfer is
  // certainly cut mid-way, and kill the receiver.
  ASSERT_TRUE(WaitFor(staging_busy, 30s)) << g.Logs();
  ASSERT_TRUE(g.Freeze(0));
  const bool cut_midway = !fs::exists(g.Folder(1) / "big.bin");
  g.Kill(1);
  g.Signal(0, SIGCONT);
  ASSERT_TRUE(cut_midway) << "the 200 MB transfer finished before it was cut";
  // Nothing partial is visible in the folder.
  EXPECT_FALSE(fs::exists(g.Folder(1) / "big.bin"));
  for (const auto& [path, hash] : g.TreeOf(1)) {
    EXPECT_EQ(path.find("big"), std::string::npos) << path;
  }
  // Restarted, it cleans staging and converges.
  g.Start(1);
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); }, 60s)) << g.Logs();
  EXPECT_EQ(HashOf(g.Folder(1) / "big.bin"), HashOf(g.Folder(0) / "big.bin"));
  ASSERT_TRUE(WaitFor([&] { return !staging_busy(); })) << g.Logs();
}

TEST(DfsrdTest, APeerWithTheWrongKeyWritesNothing) {
  Group g(2);
  WriteFile(g.Folder(0) / "index.html", "genuine");
  g.Start(0);
  // An impostor at web2's address with another key and its own content.
  const fs::path wrong_key = g.root() / "wrong.key";
  WriteFile(wrong_key, "not-the-group-key-but-long-enough-42");
  fs::permissions(wrong_key, fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace);
  const fs::path impostor = g.root() / "impostor.json";
  g.WriteConfig(1, wrong_key, impostor);
  WriteFile(g.Folder(1) / "index.html", "defaced");
  WriteFile(g.Folder(1) / "evil.html", "evil");
  g.Start(1, impostor);
  // web1 meets it (both directions) and refuses it.
  ASSERT_TRUE(WaitFor([&] {
    return g.Log(0).find("does not hold the group key") != std::string::npos &&
           g.Log(0).find("DFSR3023 peer web2") != std::string::npos &&
           g.Log(0).find("did not prove it holds the key") != std::string::npos;
  })) << g.Logs();
  EXPECT_EQ(ReadFile(g.Folder(0) / "index.html"), "genuine");
  EXPECT_FALSE(fs::exists(g.Folder(0) / "evil.html"));
  EXPECT_EQ(ReadFile(g.Folder(1) / "index.html"), "defaced");  // got nothing
}

// Hub and spoke: spokes pull only from the hub, the hub from every spoke;
// a change on one spoke reaches the other through the hub.
TEST(DfsrdTest, HubAndSpokesCarryAChangeFromSpokeToSpoke) {
  Group g(3);
  for (size_t i = 0; i < 3; ++i) {
    g.WriteConfig(i, g.root() / "group.key", {},
                  R"(,"topology":"hub","hub":"web1")");
  }
  WriteFile(g.Folder(1) / "from-spoke.html", "made on web2");
  g.StartAll();
  ASSERT_TRUE(WaitFor([&] {
    return ReadFile(g.Folder(2) / "from-spoke.html") == "made on web2" &&
           g.Converged({0, 1, 2});
  })) << g.Logs();
  // The spokes never connected to each other.
  EXPECT_EQ(g.Log(1).find("peer web3"), std::string::npos) << g.Log(1);
  EXPECT_EQ(g.Log(2).find("peer web2"), std::string::npos) << g.Log(2);
  EXPECT_NE(g.Log(2).find("connected to peer web1"), std::string::npos);
}

TEST(DfsrdTest, ALargeFileServedToSeveralPeersIsChunkedOnce) {
  Group g(3);
  // Spokes pull from the hub only: both take big.bin from web1.
  for (size_t i = 0; i < 3; ++i) {
    g.WriteConfig(i, g.root() / "group.key", {},
                  R"(,"topology":"hub","hub":"web1")");
  }
  g.StartAll();
  // Written aside (a filtered *.tmp name) and renamed in: announced whole.
  auto deploy = [&](const std::string& bytes) {
    WriteFile(g.Folder(0) / "big.bin.tmp", bytes);
    fs::rename(g.Folder(0) / "big.bin.tmp", g.Folder(0) / "big.bin");
  };
  // web1's counters once `reused` signatures were reused (they are written
  // every scan: waited for).
  nlohmann::json counters;
  auto reused = [&](int times) {
    return WaitFor([&] {
      auto status = StatusOf(g, 0);
      if (status.is_null()) return false;
      counters = status["counters"];
      return counters.value("signatures_reused", 0) == times;
    });
  };
  // Release 1, then release 2 (5 bytes changed): each is chunked once on
  // web1 and its signature reused for the second spoke (a new release no
  // longer matches the kept signature's stat; the spokes use their old
  // copy as the basis).
  std::string content = RandomBytes(3'000'000, 7);
  for (int release = 1; release <= 2; ++release) {
    if (release == 2) content.replace(1'000'000, 5, "EDIT!");
    deploy(content);
    ASSERT_TRUE(WaitFor([&] {
      return ReadFile(g.Folder(1) / "big.bin") == content &&
             ReadFile(g.Folder(2) / "big.bin") == content;
    })) << g.Logs();
    EXPECT_TRUE(reused(release)) << counters.dump();
    EXPECT_EQ(counters.value("files_chunked", 0), release) << counters.dump();
  }
}

TEST(DfsrdTest, ServesItsCountersAndBacklogsToPrometheus) {
  Group g(2);
  WriteFile(g.Folder(0) / "index.html", "hello");
  const uint16_t metrics_port = FreePort();
  g.Start(0, {}, {"--metrics", "127.0.0.1:" + std::to_string(metrics_port)});
  g.Start(1);
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); })) << g.Logs();
  std::string body;
  ASSERT_TRUE(WaitFor([&] {
    testing::TcpClient client(metrics_port);
    if (!client.Send("GET /metrics HTTP/1.0\r\n\r\n")) return false;
    body.clear();
    while (auto chunk = client.Receive(1)) body += *chunk;
    return body.find("dfsrd_wire_bytes_sent_total") != std::string::npos &&
           body.find("dfsrd_backlog_out{peer=\"web2\"} 0") != std::string::npos;
  })) << body;
  EXPECT_NE(body.find("dfsrd_local_changes_total 1"), std::string::npos)
      << body;
}

nlohmann::json HttpJson(uint16_t port, const std::string& path) {
  testing::TcpClient client(port);
  if (!client.Send("GET " + path + " HTTP/1.0\r\n\r\n")) return nullptr;
  std::string answer;
  while (auto chunk = client.Receive(1)) answer += *chunk;
  const size_t body = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.1 200") || body == std::string::npos) {
    return nullptr;
  }
  auto j = nlohmann::json::parse(answer.substr(body + 4), nullptr, false);
  return j.is_discarded() ? nullptr : j;
}

// The peer entry `name` of a /status answer (null: none).
nlohmann::json PeerIn(const nlohmann::json& status, const std::string& name) {
  if (status.is_null()) return nullptr;
  for (const auto& p : status["peers"]) {
    if (p["name"] == name) return p;
  }
  return nullptr;
}

// What dfsd's status page polls: GET /status on the metrics address of a
// running member. A peer that hangs shows as not connected, with the
// records it lacks counted exactly and the age of the oldest; once it
// answers again its backlog drains to nothing. A file taken by delta
// shows as bytes saved on the member that took it.
TEST(DfsrdTest, StatusOnTheMetricsAddressShowsBacklogAndOldestPendingChange) {
  Group g(2);
  WriteFile(g.Folder(0) / "big.bin", RandomBytes(2 << 20, 7));
  const uint16_t status0 = FreePort(), status1 = FreePort();
  g.Start(0, {}, {"--metrics", "127.0.0.1:" + std::to_string(status0)});
  g.Start(1, {}, {"--metrics", "127.0.0.1:" + std::to_string(status1)});
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); })) << g.Logs();
  nlohmann::json status;
  ASSERT_TRUE(WaitFor([&] {
    status = HttpJson(status0, "/status");
    const auto web2 = PeerIn(status, "web2");
    return !web2.is_null() && web2["connected"] == true &&
           web2["backlog_out"] == 0;
  })) << status.dump();
  EXPECT_EQ(status["group"], "site1");
  EXPECT_EQ(status["member"], "web1");
  EXPECT_TRUE(PeerIn(status, "web2")["oldest_pending_out_ms_ago"].is_null());
  EXPECT_FALSE(status.contains("tombstones")) << "polled: kept cheap";

  // web2 hangs; three changes on web1 wait for it.
  ASSERT_TRUE(g.Freeze(1));
  const auto frozen = std::chrono::steady_clock::now();
  WriteFile(g.Folder(0) / "a.html", "a");
  WriteFile(g.Folder(0) / "b.html", "b");
  WriteFile(g.Folder(0) / "c.html", "c");
  nlohmann::json web2;
  const bool waiting = WaitFor(
      [&] {
        web2 = PeerIn(HttpJson(status0, "/status"), "web2");
        return !web2.is_null() && web2["connected"] == false &&
               web2["backlog_out"] == 3 &&
               web2["oldest_pending_out_ms_ago"].is_number() &&
               web2["oldest_pending_out_ms_ago"].get<int64_t>() >= 1000;
      },
      15s);
  const auto waited = std::chrono::steady_clock::now() - frozen;
  std::string metrics;
  {
    testing::TcpClient client(status0);
    client.Send("GET /metrics HTTP/1.0\r\n\r\n");
    while (auto chunk = client.Receive(1)) metrics += *chunk;
  }
  g.Signal(1, SIGCONT);
  ASSERT_TRUE(waiting) << web2.dump() << g.Logs();
  EXPECT_TRUE(web2["backlog_out_complete"].get<bool>());
  // The oldest pending change is no older than the hang.
  EXPECT_LE(
      web2["oldest_pending_out_ms_ago"].get<int64_t>(),
      std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() +
          1000);
  EXPECT_NE(metrics.find("dfsrd_backlog_out{peer=\"web2\"} 3"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("dfsrd_oldest_pending_out_seconds{peer=\"web2\"}"),
            std::string::npos);

  // It answers again: the backlog drains.
  ASSERT_TRUE(WaitFor([&] {
    web2 = PeerIn(HttpJson(status0, "/status"), "web2");
    return !web2.is_null() && web2["connected"] == true &&
           web2["backlog_out"] == 0 &&
           web2["oldest_pending_out_ms_ago"].is_null();
  })) << web2.dump()
      << g.Logs();

  // An edit in the middle of the large file reaches web2 by delta: web2
  // says how many bytes that spared the wire.
  std::string edited = RandomBytes(2 << 20, 7);
  edited.replace(1 << 20, 5, "EDIT!");
  WriteFile(g.Folder(0) / "big.bin", edited);
  ASSERT_TRUE(WaitFor([&] { return g.Converged({0, 1}); })) << g.Logs();
  nlohmann::json taker;
  ASSERT_TRUE(WaitFor([&] {
    taker = HttpJson(status1, "/status");
    return !taker.is_null() &&
           taker["bytes_saved"].get<uint64_t>() > (1u << 20);
  })) << taker.dump();
  // Anything else on the address is still 404, and /metrics still there.
  EXPECT_TRUE(HttpJson(status0, "/status/../etc").is_null());
}

// A peer with the key that lies: its index names paths outside the folder.
TEST(DfsrdTest, AHostilePeerNamingDotDotPathsWritesNothingAnywhere) {
  Group g(2);
  WriteFile(g.Folder(0) / "index.html", "genuine");
  const std::string key = "0123456789abcdef0123456789abcdef-group-key";
  // The hostile peer listens at web2's address, speaking the protocol.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(g.Port(1));
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  std::atomic<int> lies_told{0};
  std::thread hostile([&] {
    referral::SessionKeys keys;
    keys.content_key = key;
    referral::AuthThrottle throttle;
    std::mutex throttle_mutex;
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    auto c = Connection::Accept(fd, keys, throttle, throttle_mutex, "web1", 5s);
    if (!c) return;
    for (int i = 0; i < 3; ++i) {
      auto frame = (*c)->Receive();
      if (!frame || frame->type != referral::FrameType::kReplIndexRequest) {
        return;
      }
      repl::IndexReply reply;
      reply.member = "web2";
      reply.high_seq = 2;
      repl::FileRecord escape;
      escape.path = i == 0   ? "../escaped.html"
                    : i == 1 ? "/tmp/absolute.html"
                             : std::string("nul\0.html", 9);
      escape.version.Bump("web2");
      escape.modified_by = "web2";
      escape.size = 4;
      escape.seq = 1;
      repl::FileRecord fine = escape;
      fine.path = "fine.html";
      fine.seq = 2;
      reply.records = {escape, fine};
      if (!(*c)->Send(referral::FrameType::kReplIndexReply,
                      repl::EncodeIndexReply(reply))
               .ok()) {
        return;
      }
      ++lies_told;
    }
  });
  g.Start(0);
  ASSERT_TRUE(WaitFor([&] {
    return g.Log(0).find("refused the index of web2") != std::string::npos;
  })) << g.Logs();
  g.Stop(0);  // ends the link, so the hostile thread returns
  shutdown(listener, SHUT_RDWR);
  close(listener);
  hostile.join();
  EXPECT_GE(lies_told.load(), 1);
  EXPECT_FALSE(fs::exists(g.root() / "web1" / "escaped.html"));
  EXPECT_FALSE(fs::exists(g.root() / "escaped.html"));
  EXPECT_FALSE(fs::exists("/tmp/absolute.html"));
  // The reply was refused whole: not even its harmless record was taken.
  EXPECT_FALSE(fs::exists(g.Folder(0) / "fine.html"));
  EXPECT_EQ(g.TreeOf(0),
            (Tree{{"index.html", HashOf(g.Folder(0) / "index.html")}}));
}

}  // namespace
}  // namespace dfs::dfsrd
