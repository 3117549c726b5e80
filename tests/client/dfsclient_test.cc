// Integration: the real dfsclient binary against real dfsd processes on
// 127.0.0.1, with loopback listeners standing in for content servers
// (probes) and temp directories standing in for their mounted shares.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "testing/daemon.h"
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
  // Before the TTL runs out the client stays on web2 (on a machine so slow
  // that the 2 s TTL already ran out, this run refreshed: nothing to see).
  if (still["from_cache"].get<bool>()) {
    EXPECT_EQ(Active(still), "\\\\web2\\content\\Site1");
  }
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
  const uint16_t primary = StartDfsd();
  testing::TempDir replica_store;
  testing::Daemon replica({DFSD_PATH, "--store", replica_store.path().string(),
                           "--listen", "127.0.0.1:0", "--refresh-ms", "100",
                           "--no-probe", "--replica-of",
                           "127.0.0.1:" + std::to_string(primary)});
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
    if (mount_) {
      mount_->Kill(SIGTERM);
      umount2(mnt_.c_str(), MNT_DETACH);  // only if it was left behind
    }
    DfsclientTest::TearDown();
  }
  void Mount() {
    mount_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSCLIENT_PATH, "--config", config_path().string(), "mount",
        mnt_.string(), "--domain", "contoso", "--root", "webfarm"});
    auto line = mount_->ReadLine(10s);
    ASSERT_TRUE(line) << mount_->Stderr();
    ASSERT_NE(line->find("mounted"), std::string::npos) << *line;
  }
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

// A dead network mount under an open file: web1's share is itself a FUSE
// mount (a second dfsclient serving an "origin" folder), killed with
// SIGKILL mid-read so that reads on the open file fail with ENOTCONN, as
// they do when an NFS or SMB server vanishes. The outer mount must carry
// on from web2 at the same offset.
TEST_F(MountTest, ReadFailsOverMidFileWhenTheTargetMountDies) {
  std::string content(4 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 2654435761u) >> 13);
  }
  fs::create_directories(dir_.path() / "origin" / "Site1");
  std::ofstream(dir_.path() / "origin" / "Site1" / "big.bin") << content;
  std::ofstream(dir_.path() / "web2" / "Site1" / "big.bin") << content;
  Dfsutil(
      {"link", "add", "\\\\contoso\\webfarm\\Origin", "\\\\origin\\content"});
  const uint16_t port = StartDfsd();
  WriteConfig({port}, 100);
  // Point web1's share into the inner mount.
  const fs::path inner = dir_.path() / "inner";
  fs::create_directories(inner);
  Json config = Json::parse(ReadText(config_path()));
  config["mounts"]["//web1/content"] = (inner / "webfarm" / "Origin").string();
  config["mounts"]["//origin/content"] = (dir_.path() / "origin").string();
  config["probes"]["origin"] = "none";
  std::ofstream(config_path()) << config.dump(2);

  testing::Daemon inner_mount({DFSCLIENT_PATH, "--config",
                               config_path().string(), "mount", inner.string(),
                               "--domain", "contoso"});
  auto line = inner_mount.ReadLine(10s);
  ASSERT_TRUE(line && line->find("mounted") != std::string::npos)
      << inner_mount.Stderr();
  Mount();

  const fs::path file = mnt_ / "webfarm" / "Site1" / "big.bin";
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  std::string got;
  char buf[65536];
  for (;;) {
    if (got.size() == (1u << 20)) {
      inner_mount.Kill(SIGKILL);  // web1's mount is now dead
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    ASSERT_GE(n, 0) << strerror(errno) << " at " << got.size();
    if (n == 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  umount2(inner.c_str(), MNT_DETACH);
  EXPECT_EQ(got.size(), content.size());
  EXPECT_TRUE(got == content);
  // And new opens go to web2 straight away.
  EXPECT_EQ(ReadText(mnt_ / "webfarm" / "Site1" / "page1.html"), "web2:1");
}

}  // namespace
}  // namespace dfs::client
