// Integration: the real dfsclient binary against real dfsd processes on
// 127.0.0.1, with loopback listeners standing in for content servers
// (probes) and temp directories standing in for their mounted shares.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "testing/daemon.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs::client {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
namespace fs = std::filesystem;

uint16_t ListeningPort(testing::Daemon& d) {
  auto line = d.ReadLine(10s);
  EXPECT_TRUE(line) << d.Stderr();
  if (!line) return 0;
  std::smatch m;
  std::regex re("listening on 127\\.0\\.0\\.1:(\\d+)");
  EXPECT_TRUE(std::regex_search(*line, m, re)) << *line;
  return m.empty() ? 0 : static_cast<uint16_t>(std::stoi(m[1]));
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The deadline every operation on a target gets in these tests, and the
// margin a hung target may add on top of it (a failover's resolve and
// reachability checks, a busy CI machine). Old code never answered at all.
constexpr int kOpTimeoutMs = 500;
constexpr auto kHangMargin = 2500ms;

class DfsclientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* server : {"web1", "web2"}) {
      fs::create_directories(dir_.path() / server / "Site1");
      for (int i = 0; i < 20; ++i) {
        std::ofstream(dir_.path() / server / "Site1" /
                      ("page" + std::to_string(i) + ".html"))
            << server << ":" << i;
      }
    }
    Dfsutil({"root", "add", "\\\\contoso\\webfarm"});
    Dfsutil({"target", "add", "\\\\contoso\\webfarm", "\\\\ns1\\webfarm"});
    Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\web1\\content\\Site1", "--priority", "first"});
    Dfsutil({"target", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\web2\\content\\Site1"});
    Dfsutil({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "2"});
  }
  void TearDown() override {
    if (HasFailure() && dfsd_) std::cerr << dfsd_->Stderr();
  }
  void Dfsutil(std::vector<std::string> args) {
    args.insert(args.begin(),
                {DFSUTIL_PATH, "--store", store_.path().string()});
    auto r = testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void SetFailback(bool on) {
    Dfsutil({"property", "failback", "set", "\\\\contoso\\webfarm\\Site1",
             on ? "on" : "off"});
  }
  uint16_t StartDfsd() {
    dfsd_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSD_PATH, "--store", store_.path().string(), "--listen", "127.0.0.1:0",
        "--refresh-ms", "100", "--no-probe"});
    return ListeningPort(*dfsd_);
  }
  // The client config: both namespace servers given, shares mapped into
  // the temp dir, probes on the fake content servers.
  void WriteConfig(std::vector<uint16_t> ns_ports, int recheck_ms) {
    Json servers = Json::array();
    for (auto p : ns_ports) servers.push_back("127.0.0.1:" + std::to_string(p));
    Json config = {{"namespace_servers", servers},
                   {"namespace_timeout_ms", 500},
                   {"probe_timeout_ms", 300},
                   {"path_timeout_ms", 300},
                   {"op_timeout_ms", kOpTimeoutMs},
                   {"recheck_ms", recheck_ms},
                   {"mounts",
                    {{"//web1/content", (dir_.path() / "web1").string()},
                     {"//web2/content", (dir_.path() / "web2").string()},
                     {"//ns1/webfarm", (dir_.path() / "ns1").string()}}},
                   {"probes",
                    {{"web1", "127.0.0.1:" + std::to_string(web1_.port())},
                     {"web2", "127.0.0.1:" + std::to_string(web2_.port())},
                     {"ns1", "none"}}}};
    std::ofstream(config_path()) << config.dump(2);
  }
  fs::path config_path() const { return dir_.path() / "client.json"; }
  testing::ProcessResult Client(std::vector<std::string> args) {
    args.insert(args.begin(),
                {DFSCLIENT_PATH, "--config", config_path().string(), "--cache",
                 (dir_.path() / "pkt.json").string()});
    return testing::Run(args);
  }
  Json Resolve(
      const std::string& path = "\\\\contoso\\webfarm\\Site1\\page0.html") {
    auto r = Client({"--json", "resolve", path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Json j = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  static std::string Active(const Json& j) {
    for (const auto& t : j["targets"]) {
      if (t["active"].get<bool>()) return t["target"];
    }
    return "";
  }
  // Blocks until the resolved entry's TTL has run out (the client's own
  // clock is the system clock): failback is defined by the TTL.
  static void WaitPastExpiry(const Json& j) {
    const auto expires = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(j["expires_at_ms"].get<int64_t>()));
    std::this_thread::sleep_until(expires + 50ms);
  }

  testing::TempDir dir_, store_;
  testing::FakeContentServer web1_, web2_;
  std::unique_ptr<testing::Daemon> dfsd_;
};

TEST_F(DfsclientTest, ResolvesToTheMappedLocalPathAndCachesIt) {
  WriteConfig({StartDfsd()}, 1000);
  auto r = Client({"resolve", "//CONTOSO/webfarm/site1/page3.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            (dir_.path() / "web1" / "Site1" / "page3.html").string() + "\n");
  EXPECT_EQ(ReadText(r.out.substr(0, r.out.size() - 1)), "web1:3");
  Json j = Resolve();
  EXPECT_TRUE(j["from_cache"].get<bool>());  // the cache file persisted
  // The prefix as this client first spelled it (referrals echo the path).
  EXPECT_EQ(j["prefix"], "\\\\CONTOSO\\webfarm\\site1");
  EXPECT_EQ(j["ttl"], 2);
  EXPECT_EQ(j["targets"].size(), 2u);

  auto info = Client({"pktinfo"});
  ASSERT_EQ(info.exit_code, 0);
  EXPECT_NE(info.out.find("\\\\CONTOSO\\webfarm\\site1"), std::string::npos);
  EXPECT_NE(info.out.find("* \\\\web1\\content\\Site1"), std::string::npos)
      << info.out;
  auto flush = Client({"pktflush"});
  ASSERT_EQ(flush.exit_code, 0);
  EXPECT_NE(Client({"pktinfo"}).out.find("empty"), std::string::npos);
  EXPECT_FALSE(Resolve()["from_cache"].get<bool>());

  auto missing = Client({"resolve", "\\\\contoso\\nothere\\x"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nothere"), std::string::npos) << missing.err;
  auto bad = Client({"resolve", "no-unc"});
  EXPECT_EQ(bad.exit_code, 1);
  auto usage = Client({"resolve"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(DfsclientTest, KilledPrimaryGoesToTheBackupAndFailsBackAfterTheTtl) {
  SetFailback(true);
  // Long enough that the check below always runs before it ends, on any
  // machine (with 2 s, a slow one could refresh first and see nothing).
  Dfsutil({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "8"});
  WriteConfig({StartDfsd()}, 1);  // every run re-checks its active target
  EXPECT_EQ(Active(Resolve()), "\\\\web1\\content\\Site1");
  const uint16_t web1_port = web1_.port();
  web1_.Close();  // the primary content server dies
  Json after = Resolve();
  EXPECT_EQ(Active(after), "\\\\web2\\content\\Site1");
  EXPECT_TRUE(after["from_cache"].get<bool>());  // no wait for the TTL
  EXPECT_EQ(after["local_path"],
            (dir_.path() / "web2" / "Site1" / "page0.html").string());

  web1_.Open(web1_port);  // back
  Json still = Resolve();
  // Before the TTL runs out the client stays on web2.
  EXPECT_TRUE(still["from_cache"].get<bool>());
  EXPECT_EQ(Active(still), "\\\\web2\\content\\Site1");
  WaitPastExpiry(still);
  Json back = Resolve();
  EXPECT_FALSE(back["from_cache"].get<bool>());
  EXPECT_EQ(Active(back), "\\\\web1\\content\\Site1");
}

TEST_F(DfsclientTest, WithFailbackOffTheClientStaysOnTheBackup) {
  SetFailback(false);
  WriteConfig({StartDfsd()}, 1);
  EXPECT_EQ(Active(Resolve()), "\\\\web1\\content\\Site1");
  const uint16_t web1_port = web1_.port();
  web1_.Close();
  EXPECT_EQ(Active(Resolve()), "\\\\web2\\content\\Site1");
  web1_.Open(web1_port);
  for (int ttl = 0; ttl < 2; ++ttl) {
    Json j = Resolve();
    EXPECT_EQ(Active(j), "\\\\web2\\content\\Site1");
    WaitPastExpiry(j);
  }
  Json refreshed = Resolve();
  EXPECT_FALSE(refreshed["from_cache"].get<bool>());
  EXPECT_EQ(Active(refreshed), "\\\\web2\\content\\Site1");
  // Only when web2 fails does it move, back to web1.
  web2_.Close();
  EXPECT_EQ(Active(Resolve()), "\\\\web1\\content\\Site1");
}

TEST_F(DfsclientTest, LosingOneOfTwoNamespaceServersFailsNoResolve) {
  // The replica and its primary prove a shared key to each other.
  const auto key = dir_.path() / "replica.key";
  std::ofstream(key) << "replica-key-0123456789abcdefghijklmnop\n";
  chmod(key.c_str(), 0600);
  dfsd_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
      DFSD_PATH, "--store", store_.path().string(), "--listen", "127.0.0.1:0",
      "--refresh-ms", "100", "--no-probe", "--replica-key", key.string()});
  const uint16_t primary = ListeningPort(*dfsd_);
  testing::TempDir replica_store;
  testing::Daemon replica(
      {DFSD_PATH, "--store", replica_store.path().string(), "--listen",
       "127.0.0.1:0", "--refresh-ms", "100", "--no-probe", "--replica-key",
       key.string(), "--replica-of", "127.0.0.1:" + std::to_string(primary)});
  const uint16_t second = ListeningPort(replica);
  // The replica answers once it has pulled the namespace (bounded wait).
  WriteConfig({second}, 1000);
  bool replicated = false;
  for (int i = 0; i < 100 && !replicated; ++i) {
    replicated =
        Client({"resolve", "\\\\contoso\\webfarm\\Site1\\a"}).exit_code == 0;
    if (!replicated) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(replicated) << replica.Stderr();

  WriteConfig({primary, second}, 1000);
  ASSERT_EQ(Client({"pktflush"}).exit_code, 0);
  EXPECT_EQ(Resolve()["from_cache"], false);
  dfsd_->Kill(SIGKILL);  // the first namespace server is gone
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Client({"pktflush"}).exit_code, 0);  // force a referral
    auto r = Client(
        {"--json", "resolve",
         "\\\\contoso\\webfarm\\Site1\\page" + std::to_string(i) + ".html"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("web1"), std::string::npos);
  }
}

TEST_F(DfsclientTest, FailReportsTheActiveTargetAndMovesOn) {
  WriteConfig({StartDfsd()}, 60000);
  EXPECT_EQ(Active(Resolve()), "\\\\web1\\content\\Site1");
  auto r = Client({"fail", "\\\\contoso\\webfarm\\Site1\\page0.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            (dir_.path() / "web2" / "Site1" / "page0.html").string() + "\n");
  EXPECT_EQ(Active(Resolve()), "\\\\web2\\content\\Site1");
}

// Issue 11: a namespace server that accepts the connection and never
// answers (listed first) cost every resolve forever: SO_RCVTIMEO does not
// apply to Asio's non-blocking sockets. Now the exchange has a deadline
// and the next server answers.
TEST_F(DfsclientTest,
       Issue11ANamespaceServerThatAcceptsAndNeverAnswersIsSkipped) {
  testing::FakeContentServer silent;  // the kernel accepts; nobody reads
  const uint16_t live = StartDfsd();
  WriteConfig({silent.port(), live}, 1000);
  const auto start = std::chrono::steady_clock::now();
  auto r =
      testing::RunWithin({DFSCLIENT_PATH, "--config", config_path().string(),
                          "--cache", (dir_.path() / "pkt.json").string(),
                          "resolve", "\\\\contoso\\webfarm\\Site1\\page0.html"},
                         30s);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.timed_out) << "resolve hung";
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            (dir_.path() / "web1" / "Site1" / "page0.html").string() + "\n");
  // One namespace timeout (500 ms) plus a margin.
  EXPECT_LT(took, 500ms + kHangMargin);
}

// Issue 11: the preferred namespace server frozen (SIGSTOP) while a second
// one serves the same store: resolves go to the second within the deadline.
TEST_F(DfsclientTest, Issue11AFrozenNamespaceServerIsSkipped) {
  const uint16_t first = StartDfsd();
  testing::Daemon second_dfsd({DFSD_PATH, "--store", store_.path().string(),
                               "--listen", "127.0.0.1:0", "--refresh-ms", "100",
                               "--no-probe"});
  const uint16_t second = ListeningPort(second_dfsd);
  WriteConfig({first, second}, 1000);
  ASSERT_EQ(Client({"resolve", "\\\\contoso\\webfarm\\Site1\\a"}).exit_code, 0);
  ASSERT_TRUE(testing::Freeze(dfsd_->pid()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Client({"pktflush"}).exit_code, 0);  // force a referral
    const auto start = std::chrono::steady_clock::now();
    auto r = testing::RunWithin(
        {DFSCLIENT_PATH, "--config", config_path().string(), "--cache",
         (dir_.path() / "pkt.json").string(), "resolve",
         "\\\\contoso\\webfarm\\Site1\\page" + std::to_string(i) + ".html"},
        30s);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.timed_out) << "resolve hung";
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_LT(took, 500ms + kHangMargin);
  }
  kill(dfsd_->pid(), SIGCONT);
}

// Issue 11: the cache file, hardened. A lock held by another process is
// waited for a bounded time, then the resolve goes on without the cache.
TEST_F(DfsclientTest, Issue11AHeldCacheLockDoesNotBlockResolve) {
  WriteConfig({StartDfsd()}, 1000);
  Json config = Json::parse(ReadText(config_path()));
  config["cache_lock_timeout_ms"] = 200;
  std::ofstream(config_path()) << config.dump(2);
  ASSERT_EQ(Client({"pktflush"}).exit_code, 0);  // creates the lock file
  const std::string lock_path = (dir_.path() / "pkt.json.lock").string();
  const int fd = open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);  // held, as by a stuck dfsclient
  auto r =
      testing::RunWithin({DFSCLIENT_PATH, "--config", config_path().string(),
                          "--cache", (dir_.path() / "pkt.json").string(),
                          "resolve", "\\\\contoso\\webfarm\\Site1\\page0.html"},
                         30s);
  close(fd);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not using the cache"), std::string::npos) << r.err;
  EXPECT_EQ(r.out,
            (dir_.path() / "web1" / "Site1" / "page0.html").string() + "\n");
  // pktflush, whose whole point is the cache, says it could not.
  auto flush = Client({"pktflush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.err;  // the lock is free again
}

// Symlinks planted in the cache folder are never followed.
TEST_F(DfsclientTest, Issue11SymlinksInTheCacheFolderAreNotFollowed) {
  WriteConfig({StartDfsd()}, 1000);
  const fs::path cache = dir_.path() / "cache";
  fs::create_directories(cache);
  chmod(cache.c_str(), 0700);
  const fs::path victim = dir_.path() / "victim.txt";
  std::ofstream(victim) << "precious";
  fs::create_symlink(victim, cache / "pkt.json");
  const fs::path lock_victim = dir_.path() / "created-by-lock";
  fs::create_symlink(lock_victim, cache / "pkt.json.lock");
  auto r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                         "--cache", (cache / "pkt.json").string(), "resolve",
                         "\\\\contoso\\webfarm\\Site1\\page0.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // answered without the cache
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(lock_victim));
  EXPECT_EQ(ReadText(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(cache / "pkt.json"));

  // With the lock in order, a symlinked cache file is still not replaced.
  fs::remove(cache / "pkt.json.lock");
  r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                    "--cache", (cache / "pkt.json").string(), "resolve",
                    "\\\\contoso\\webfarm\\Site1\\page0.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // answered; the cache not saved
  EXPECT_NE(r.err.find("warning: cannot save the cache"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(cache / "pkt.json"));
}

// A cache folder or file owned by another user is refused (as root, the
// test makes them another user's with chown).
TEST_F(DfsclientTest, Issue11ACacheOwnedByAnotherUserIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  WriteConfig({StartDfsd()}, 1000);
  const fs::path theirs = dir_.path() / "theirs";
  fs::create_directories(theirs);
  ASSERT_EQ(chown(theirs.c_str(), 4242, 4242), 0);
  auto r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                         "--cache", (theirs / "pkt.json").string(), "resolve",
                         "\\\\contoso\\webfarm\\Site1\\page0.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("uid 4242"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(theirs / "pkt.json"));

  const fs::path mine = dir_.path() / "mine";
  fs::create_directories(mine);
  chmod(mine.c_str(), 0700);
  std::ofstream(mine / "pkt.json") << "{}";
  ASSERT_EQ(chown((mine / "pkt.json").c_str(), 4242, 4242), 0);
  r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                    "--cache", (mine / "pkt.json").string(), "resolve",
                    "\\\\contoso\\webfarm\\Site1\\page0.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;  // answered; their file not replaced
  EXPECT_NE(r.err.find("uid 4242"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(stat((mine / "pkt.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(ReadText(mine / "pkt.json"), "{}");
}

// A cache file far over max_cache_entries loads in linear time and keeps
// the entries expiring last (it used to cost entries x limit: 200k entries
// took over 300 s).
TEST_F(DfsclientTest, Issue11AHugeCacheFileLoadsAndIsTrimmed) {
  WriteConfig({StartDfsd()}, 1000);
  Json config = Json::parse(ReadText(config_path()));
  config["max_cache_entries"] = 100;
  std::ofstream(config_path()) << config.dump(2);
  Json entries = Json::array();
  const int64_t far = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      3'600'000;
  for (int i = 0; i < 200'000; ++i) {
    const std::string prefix = "\\\\contoso\\webfarm\\F" + std::to_string(i);
    entries.push_back({{"key", "\\\\contoso\\webfarm\\f" + std::to_string(i)},
                       {"prefix", prefix},
                       {"root_referral", false},
                       {"failback", false},
                       {"ttl", 300},
                       {"expires_at_ms", far + i},
                       {"targets", {"\\\\web2\\content\\Site1"}},
                       {"active", 0}});
  }
  std::ofstream(dir_.path() / "pkt.json") << Json{
      {"version", 1},
      {"entries", entries},
      {"health", Json::object()}}.dump();
  auto r = testing::RunWithin(
      {DFSCLIENT_PATH, "--config", config_path().string(), "--cache",
       (dir_.path() / "pkt.json").string(), "--json", "pktinfo"},
      120s);
  ASSERT_FALSE(r.timed_out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json kept = Json::parse(r.out);
  ASSERT_EQ(kept.size(), 100u);
  std::set<std::string> keys;
  for (const auto& e : kept) keys.insert(e["key"].get<std::string>());
  EXPECT_TRUE(keys.count("\\\\contoso\\webfarm\\f199999"));
  EXPECT_FALSE(keys.count("\\\\contoso\\webfarm\\f0"));
}

// The FUSE mount, when the machine has FUSE.
class MountTest : public DfsclientTest {
 protected:
  void SetUp() override {
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "no /dev/fuse on this machine: the mount is not tested";
    }
    DfsclientTest::SetUp();
    mnt_ = dir_.path() / "mnt";
    fs::create_directories(mnt_);
  }
  void TearDown() override {
    if (inner_mount_) {
      // A stopped inner mount must not keep the outer one's helpers (or
      // this test) waiting: end it first.
      inner_mount_->Kill(SIGKILL);
      inner_mount_.reset();
    }
    if (!inner_.empty()) umount2(inner_.c_str(), MNT_DETACH);
    if (mount_) {
      if (HasFailure()) std::cerr << mount_->Stderr();
      mount_->Kill(SIGTERM);
      umount2(mnt_.c_str(), MNT_DETACH);  // only if it was left behind
    }
    DfsclientTest::TearDown();
  }
  void Mount(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {DFSCLIENT_PATH,
                                     "--config",
                                     config_path().string(),
                                     "--cache",
                                     cache_path().string(),
                                     "mount",
                                     mnt_.string(),
                                     "--domain",
                                     "contoso",
                                     "--root",
                                     "webfarm"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    mount_ = std::make_unique<testing::Daemon>(argv);
    auto line = mount_->ReadLine(10s);
    ASSERT_TRUE(line) << mount_->Stderr();
    ASSERT_NE(line->find("mounted"), std::string::npos) << *line;
  }
  // web1's share served through a second dfsclient mount of an "origin"
  // folder: a FUSE file system the test can freeze (SIGSTOP) or kill, as an
  // NFS or SMB server hangs or dies under a web node.
  void ServeWeb1ThroughInnerMount() {
    fs::create_directories(dir_.path() / "origin" / "Site1");
    for (int i = 0; i < 20; ++i) {
      std::ofstream(dir_.path() / "origin" / "Site1" /
                    ("page" + std::to_string(i) + ".html"))
          << "web1:" << i;
    }
    Dfsutil(
        {"link", "add", "\\\\contoso\\webfarm\\Origin", "\\\\origin\\content"});
    inner_ = dir_.path() / "inner";
    fs::create_directories(inner_);
    Json config = Json::parse(ReadText(config_path()));
    config["mounts"]["//web1/content"] =
        (inner_ / "webfarm" / "Origin").string();
    config["mounts"]["//origin/content"] = (dir_.path() / "origin").string();
    config["probes"]["origin"] = "none";
    std::ofstream(config_path()) << config.dump(2);
  }
  void StartInnerMount() {
    inner_mount_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSCLIENT_PATH, "--config", config_path().string(), "--cache",
        (dir_.path() / "inner-pkt.json").string(), "mount", inner_.string(),
        "--domain", "contoso"});
    auto line = inner_mount_->ReadLine(10s);
    ASSERT_TRUE(line && line->find("mounted") != std::string::npos)
        << inner_mount_->Stderr();
  }
  // dfsd, the namespace server in the config, web1's inner mount and the
  // web node's mount (with `extra` arguments).
  void StartDfsdAndBothMounts(std::vector<std::string> extra = {}) {
    const uint16_t port = StartDfsd();
    Json config = Json::parse(ReadText(config_path()));
    config["namespace_servers"] = {"127.0.0.1:" + std::to_string(port)};
    std::ofstream(config_path()) << config.dump(2);
    StartInnerMount();
    Mount(std::move(extra));
  }
  void StopInnerMount(int sig) {
    if (!inner_mount_) return;
    inner_mount_->Kill(sig);
    inner_mount_.reset();
  }
  fs::path cache_path() const { return dir_.path() / "pkt.json"; }
  // Waits (bounded) until dfsd serves a referral whose first target is
  // `target`: dfsd picks up dfsutil's changes within its refresh interval.
  // Asked by a client with a cache of its own, so the mount's is untouched.
  void ServedActiveBecomes(const std::string& target) {
    const std::string other_cache = (dir_.path() / "probe.json").string();
    for (int i = 0; i < 100; ++i) {
      auto r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                             "--cache", other_cache, "pktflush"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      r = testing::Run({DFSCLIENT_PATH, "--config", config_path().string(),
                        "--cache", other_cache, "--json", "resolve",
                        "\\\\contoso\\webfarm\\Site1\\page0.html"});
      Json j = Json::parse(r.out, nullptr, false);
      if (!j.is_discarded() && Active(j) == target) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "dfsd never served " << target << " first";
  }
  fs::path inner_;
  std::unique_ptr<testing::Daemon> inner_mount_;
  bool Mounted() const {
    return ReadText("/proc/self/mounts").find(mnt_.string()) !=
           std::string::npos;
  }
  fs::path mnt_;
  std::unique_ptr<testing::Daemon> mount_;
};

TEST_F(MountTest, ServesFilesAndKeepsServingWhenThePrimaryGoesAway) {
  WriteConfig({StartDfsd()}, 100);
  Mount();
  EXPECT_TRUE(fs::is_directory(mnt_ / "webfarm"));
  EXPECT_TRUE(fs::is_directory(mnt_ / "webfarm" / "Site1"));
  EXPECT_EQ(ReadText(mnt_ / "webfarm" / "site1" / "page0.html"), "web1:0");
  EXPECT_FALSE(fs::exists(mnt_ / "webfarm" / "Site1" / "nope.html"));
  EXPECT_FALSE(fs::exists(mnt_ / "webfarm" / "NoFolder" / "x"));
  size_t listed = 0;
  for (const auto& e : fs::directory_iterator(mnt_ / "webfarm" / "Site1")) {
    (void)e;
    ++listed;
  }
  EXPECT_EQ(listed, 20u);
  // Read-only for everyone.
  EXPECT_FALSE(
      std::ofstream(mnt_ / "webfarm" / "Site1" / "new.html").is_open());

  // A sequence of reads; halfway the primary's server dies and its share
  // goes away. Every read must still succeed, from the backup after.
  for (int i = 0; i < 20; ++i) {
    if (i == 10) {
      web1_.Close();
      fs::rename(dir_.path() / "web1" / "Site1", dir_.path() / "web1" / "gone");
    }
    const std::string got = ReadText(mnt_ / "webfarm" / "Site1" /
                                     ("page" + std::to_string(i) + ".html"));
    if (i < 10) {
      EXPECT_EQ(got, "web1:" + std::to_string(i));
    } else {
      EXPECT_EQ(got, "web2:" + std::to_string(i));
    }
  }

  // SIGTERM unmounts cleanly.
  EXPECT_TRUE(Mounted());
  const int status = mount_->Kill(SIGTERM);
  mount_.reset();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(Mounted());
}

std::string Pattern(size_t size, uint32_t seed) {
  std::string content(size, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>(((i + seed) * 2654435761u) >> 13);
  }
  return content;
}

// Gives `b` the mtime of `a`, as replication installs a copy.
void SameMtime(const fs::path& a, const fs::path& b) {
  fs::last_write_time(b, fs::last_write_time(a));
}

// A dead network mount under an open file: web1's share is a FUSE mount
// (a second dfsclient serving an "origin" folder), killed with SIGKILL
// mid-read so that reads on the open file fail with ENOTCONN, as they do
// when an NFS or SMB server vanishes. web2 holds the same version of the
// file (same size and mtime): the outer mount carries on from web2 at the
// same offset.
TEST_F(MountTest, ReadFailsOverMidFileWhenTheTargetMountDies) {
  const std::string content = Pattern(4 << 20, 0);
  WriteConfig({}, 100);
  ServeWeb1ThroughInnerMount();
  std::ofstream(dir_.path() / "origin" / "Site1" / "big.bin") << content;
  std::ofstream(dir_.path() / "web2" / "Site1" / "big.bin") << content;
  SameMtime(dir_.path() / "origin" / "Site1" / "big.bin",
            dir_.path() / "web2" / "Site1" / "big.bin");
  StartDfsdAndBothMounts();

  const fs::path file = mnt_ / "webfarm" / "Site1" / "big.bin";
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  std::string got;
  char buf[65536];
  for (;;) {
    if (got.size() == (1u << 20)) {
      StopInnerMount(SIGKILL);  // web1's mount is now dead
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    ASSERT_GE(n, 0) << strerror(errno) << " at " << got.size();
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_EQ(got.size(), content.size());
  EXPECT_TRUE(got == content);
  // And new opens go to web2 straight away.
  EXPECT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page1.html"), "web2:1");
  EXPECT_NE(mount_->Stderr().find("DFSC2006"), std::string::npos);
}

// Reads `path` whole in a helper thread; the caller gets the body, or the
// errno that ended the read, or nothing when the read did not end within
// `limit` (the thread is then left to finish once the test unfreezes).
struct TimedRead {
  std::string body;
  int error = 0;
  std::chrono::milliseconds took{0};
};
std::optional<TimedRead> ReadWithin(const fs::path& path,
                                    std::chrono::milliseconds limit) {
  auto result = std::make_shared<std::promise<TimedRead>>();
  auto future = result->get_future();
  std::thread([path, result] {
    TimedRead r;
    const auto start = std::chrono::steady_clock::now();
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      r.error = errno;
    } else {
      char buf[65536];
      for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) r.error = errno;
        if (n <= 0) break;
        r.body.append(buf, static_cast<size_t>(n));
      }
      close(fd);
    }
    r.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    result->set_value(std::move(r));
  }).detach();
  if (future.wait_for(limit) != std::future_status::ready) return std::nullopt;
  return future.get();
}

// Issue 11: a content server that hangs (its FUSE daemon stopped with
// SIGSTOP) while reads go through the mount. Every read completes, from
// the backup, within the operation deadline plus a margin; before, every
// reader waited in the kernel until SIGCONT.
TEST_F(MountTest, Issue11AHungContentServerCostsTheDeadlineNotTheNode) {
  WriteConfig({}, 100);
  ServeWeb1ThroughInnerMount();
  StartDfsdAndBothMounts({"--metrics", "127.0.0.1:0"});
  const fs::path site = mnt_ / "webfarm" / "Site1";
  ASSERT_EQ(ReadText(site / "page0.html"), "web1:0");

  ASSERT_TRUE(testing::Freeze(inner_mount_->pid()));  // web1 hangs
  int from_backup = 0;
  for (int i = 1; i < 20; ++i) {
    const auto name = "page" + std::to_string(i) + ".html";
    auto r = ReadWithin(site / name, std::chrono::milliseconds(kOpTimeoutMs) +
                                         kHangMargin + 5s);
    ASSERT_TRUE(r) << name << " did not answer at all";
    EXPECT_EQ(r->error, 0) << name << ": " << strerror(r->error);
    EXPECT_EQ(r->body, "web2:" + std::to_string(i)) << name;
    EXPECT_LE(r->took, std::chrono::milliseconds(kOpTimeoutMs) + kHangMargin)
        << name;
    from_backup += r->body == "web2:" + std::to_string(i);
  }
  EXPECT_EQ(from_backup, 19);
  // Directory listings and stats do not hang either.
  size_t listed = 0;
  for (const auto& e : fs::directory_iterator(site)) {
    (void)e;
    ++listed;
  }
  EXPECT_EQ(listed, 20u);
  const std::string log = mount_->Stderr();
  EXPECT_NE(log.find("DFSC2008"), std::string::npos) << log;  // timed out
  EXPECT_NE(log.find("DFSC2001"), std::string::npos) << log;  // failover
  kill(inner_mount_->pid(), SIGCONT);
}

// Issue 11: web1 and web2 hold different copies of a file (a deploy in
// progress). Readers read it whole, again and again, while web1 dies
// (failover) and comes back (failback after the 2 s TTL). Every body read
// is one whole copy, never a mix; a read that cannot continue on an
// identical copy fails with EIO instead.
TEST_F(MountTest, Issue11FailoverAndFailbackNeverMixTwoCopies) {
  SetFailback(true);
  WriteConfig({}, 100);
  ServeWeb1ThroughInnerMount();
  const std::string v1 = Pattern(3 << 20, 1), v2 = Pattern(3 << 20, 2);
  const std::string v2_short = Pattern(2 << 20, 3);
  std::ofstream(dir_.path() / "origin" / "Site1" / "big.bin") << v1;
  std::ofstream(dir_.path() / "web2" / "Site1" / "big.bin") << v2;
  std::ofstream(dir_.path() / "origin" / "Site1" / "sized.bin") << v1;
  std::ofstream(dir_.path() / "web2" / "Site1" / "sized.bin") << v2_short;
  // The new release reached web2 a minute after web1's: copies of one
  // size differ in mtime (two copies with the same size and mtime count as
  // the same version: client/README.md).
  for (const char* name : {"big.bin", "sized.bin"}) {
    fs::last_write_time(
        dir_.path() / "web2" / "Site1" / name,
        fs::last_write_time(dir_.path() / "origin" / "Site1" / name) + 60s);
  }
  StartDfsdAndBothMounts();

  std::atomic<bool> stop{false};
  std::atomic<int> whole_v1{0}, whole_v2{0}, eio{0}, wrong{0}, other{0};
  auto reader = [&](const char* name, const std::string& a,
                    const std::string& b) {
    const fs::path file = mnt_ / "webfarm" / "Site1" / name;
    // Bounded in count as well as by `stop`.
    for (int round = 0; round < 2000 && !stop; ++round) {
      const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ++other;
        continue;
      }
      std::string body;
      char buf[32768];
      int err = 0;
      for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) err = errno;
        if (n <= 0) break;
        body.append(buf, static_cast<size_t>(n));
      }
      close(fd);
      if (err == EIO) {
        ++eio;
      } else if (err != 0) {
        ++other;
      } else if (body == a) {
        ++whole_v1;
      } else if (body == b) {
        ++whole_v2;
      } else {
        ++wrong;
      }
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back(reader, "big.bin", v1, v2);
    readers.emplace_back(reader, "sized.bin", v1, v2_short);
  }
  auto wait_for = [&](std::atomic<int>& counter, int at_least) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (counter < at_least && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);  // polling a counter, bounded
    }
    return counter >= at_least;
  };
  EXPECT_TRUE(wait_for(whole_v1, 8));
  StopInnerMount(SIGKILL);  // web1 dies mid-read: failover
  EXPECT_TRUE(wait_for(whole_v2, 8));
  StartInnerMount();  // web1 is back (on a stale mountpoint it cleans up)
  const int v1_before = whole_v1;
  EXPECT_TRUE(wait_for(whole_v1, v1_before + 8));  // failback at the TTL
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong, 0) << "bodies that mix the two copies";
  EXPECT_EQ(other, 0);
  std::cerr << "whole v1 " << whole_v1 << ", whole v2 " << whole_v2 << ", EIO "
            << eio << "\n";
}

// Issue 11: `dfsclient pktinfo|pktflush|fail` reach a running mount's own
// cache; before, a flush changed only the cache file and the mount went
// on serving a target an admin took offline until the TTL.
TEST_F(MountTest, Issue11PktflushAndPktinfoReachTheRunningMount) {
  Dfsutil({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "600"});
  WriteConfig({StartDfsd()}, 100);
  Mount();
  const fs::path page = mnt_ / "webfarm" / "Site1" / "page0.html";
  ASSERT_EQ(ReadText(page), "web1:0");

  auto info = Client({"--json", "pktinfo"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  Json entries = Json::parse(info.out, nullptr, false);
  ASSERT_TRUE(entries.is_array()) << info.out;
  bool site1 = false;
  for (const auto& e : entries) {
    if (e["key"] == "\\\\contoso\\webfarm\\site1") {
      site1 = true;
      EXPECT_EQ(Active(e), "\\\\web1\\content\\Site1");
    }
  }
  EXPECT_TRUE(site1) << info.out;
  EXPECT_NE(Client({"pktinfo"}).out.find("running mount"), std::string::npos);

  // The admin takes web1 offline; the mount still has it cached.
  Dfsutil({"property", "state", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web1\\content\\Site1", "offline"});
  ServedActiveBecomes("\\\\web2\\content\\Site1");
  EXPECT_EQ(ReadText(page), "web1:0");
  auto flush = Client({"pktflush"});
  ASSERT_EQ(flush.exit_code, 0) << flush.err;
  EXPECT_NE(flush.out.find("running mount"), std::string::npos) << flush.out;
  Json after = Json::parse(Client({"--json", "pktinfo"}).out, nullptr, false);
  EXPECT_TRUE(after.is_array() && after.empty()) << after.dump();
  EXPECT_EQ(ReadText(page), "web2:0");  // the fresh referral

  // `fail` moves the mount itself on.
  Dfsutil({"property", "state", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web1\\content\\Site1", "online"});
  ServedActiveBecomes("\\\\web1\\content\\Site1");
  ASSERT_EQ(Client({"pktflush"}).exit_code, 0);
  ASSERT_EQ(ReadText(page), "web1:0");
  auto fail = Client({"fail", "\\\\contoso\\webfarm\\Site1\\page0.html"});
  ASSERT_EQ(fail.exit_code, 0) << fail.err;
  EXPECT_EQ(ReadText(page), "web2:0");
}

// Issue 11: after SIGKILL the mountpoint holds a dead FUSE mount
// (ENOTCONN); starting the mount again cleans it up and serves.
TEST_F(MountTest, Issue11ASigkilledMountRestartsOnTheSameMountpoint) {
  WriteConfig({StartDfsd()}, 100);
  Mount();
  ASSERT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page2.html"), "web1:2");
  mount_->Kill(SIGKILL);
  mount_.reset();
  struct stat st {};
  EXPECT_NE(stat(mnt_.c_str(), &st), 0);
  EXPECT_EQ(errno, ENOTCONN);
  Mount();
  EXPECT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page2.html"), "web1:2");
  EXPECT_NE(mount_->Stderr().find("DFSC2009"), std::string::npos);
  // A live mount is not replaced by a second one.
  auto second =
      testing::RunWithin({DFSCLIENT_PATH, "--config", config_path().string(),
                          "--cache", (dir_.path() / "other.json").string(),
                          "mount", mnt_.string(), "--domain", "contoso"},
                         20s);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already"), std::string::npos) << second.err;
  EXPECT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page3.html"), "web1:3");
}

// The metrics endpoint a mount serves with --metrics.
TEST_F(MountTest, ServesPrometheusMetrics) {
  WriteConfig({StartDfsd()}, 100);
  // A free port: bind one, release it, hand it to the mount.
  testing::FakeContentServer probe_port;
  const uint16_t port = probe_port.port();
  probe_port.Close();
  Mount({"--metrics", "127.0.0.1:" + std::to_string(port)});
  ASSERT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page0.html"), "web1:0");
  testing::TcpClient http(port);
  ASSERT_TRUE(http.connected());
  ASSERT_TRUE(http.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string text;
  while (auto chunk = http.Receive(1)) text += *chunk;
  EXPECT_NE(text.find("200 OK"), std::string::npos) << text;
  EXPECT_NE(text.find("dfs_client_active_target{prefix=\"\\\\\\\\contoso\\\\"
                      "webfarm\\\\Site1\",target=\"\\\\\\\\web1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dfs_client_target_operations_total{op=\"read\","
                      "result=\"ok\"} "),
            std::string::npos);
}

}  // namespace
}  // namespace dfs::client
