// Integration: any SMB client follows the namespace through Samba. In a
// private network namespace (unshare -n: port 445 is free and nothing
// leaves the test), Debian's smbd serves dfsd's msdfs root on
// 127.0.0.1:445 and two content shares on 127.0.0.2:445 and
// 127.0.0.3:445; stock smbclient reads through the referral, tshark
// decodes it. Skipped, with the reason, without samba, root or unshare.
//
// The test re-runs itself inside the namespace (DFS_IN_NETNS set); the
// outer run only starts it and reports.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "testing/daemon.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;

const char* const kSmbd = "/usr/sbin/smbd";
const char* const kSmbclient = "/usr/bin/smbclient";
const char* const kTshark = "/usr/bin/tshark";
constexpr auto kProbeInterval = 500ms;

bool Reachable(const std::string& ip) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = testing::Loopback(445);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// One smbd bound to `ip` only, serving `shares` (smb.conf sections).
std::unique_ptr<testing::Daemon> StartSmbd(const fs::path& dir,
                                           const std::string& ip,
                                           const std::string& shares) {
  for (const char* sub : {"private", "lock", "state", "cache", "pid", "rpc"})
    fs::create_directories(dir / sub);
  std::ofstream(dir / "smb.conf")
      << "[global]\n  interfaces = " << ip
      << "\n  bind interfaces only = yes\n  smb ports = 445\n"
         "  disable netbios = yes\n  server role = standalone server\n"
         "  map to guest = Bad User\n  host msdfs = yes\n"
         "  load printers = no\n  printing = bsd\n  printcap name = /dev/null\n"
         "  disable spoolss = yes\n"
      << "  private dir = " << (dir / "private").string()
      << "\n  lock directory = " << (dir / "lock").string()
      << "\n  state directory = " << (dir / "state").string()
      << "\n  cache directory = " << (dir / "cache").string()
      << "\n  pid directory = " << (dir / "pid").string()
      << "\n  ncalrpc dir = " << (dir / "rpc").string()
      << "\n  passdb backend = tdbsam:" << (dir / "private/passdb.tdb").string()
      << "\n  log file = " << (dir / "log").string() << "\n"
      << shares;
  auto smbd = std::make_unique<testing::Daemon>(
      std::vector<std::string>{kSmbd, "--foreground", "--no-process-group",
                               "-s", (dir / "smb.conf").string()});
  const auto deadline = SteadyClock::now() + 15s;
  while (!Reachable(ip) && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // polling smbd's start, bounded
  }
  EXPECT_TRUE(Reachable(ip)) << "smbd on " << ip << ": " << smbd->Stderr();
  return smbd;
}

std::string Share(const std::string& name, const fs::path& path,
                  const std::string& extra = "") {
  return "[" + name + "]\n  path = " + path.string() +
         "\n  guest ok = yes\n  read only = yes\n" + extra;
}

// What stock smbclient prints for `file` read through the msdfs root.
std::string ReadThroughSamba(const std::string& file) {
  auto r = testing::RunWithin(
      {kSmbclient, "-N", "//127.0.0.1/webfarm", "-c", "get " + file + " -"},
      20s);
  return r.out;
}

// Why this machine cannot run a test in a private network namespace with
// `tools` (empty: it can).
std::string NetnsSkipReason(const std::vector<const char*>& tools) {
  for (const char* tool : tools) {
    if (!fs::exists(tool)) {
      return std::string(tool) +
             " is not installed (scripts/setup.sh installs samba, smbclient "
             "and tshark)";
    }
  }
  if (geteuid() != 0) return "a network namespace needs root";
  if (testing::Run({"/usr/bin/unshare", "-n", "true"}).exit_code != 0) {
    return "unshare -n is not allowed here";
  }
  return "";
}

// Runs this binary's test `name` again inside a new network namespace
// (DFS_IN_NETNS set) and reports its result here.
void RunSelfInNetns(const std::string& name) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  auto inner =
      testing::RunWithin({"/usr/bin/unshare", "-n", "/usr/bin/env",
                          "DFS_IN_NETNS=1", self, "--gtest_filter=" + name},
                         180s);
  EXPECT_FALSE(inner.timed_out);
  EXPECT_EQ(inner.exit_code, 0) << inner.out << inner.err;
}

// Inside the namespace: loopback up, with the content servers' addresses.
void LoopbackWithContentAddresses() {
  for (const char* ip : {"127.0.0.2/8", "127.0.0.3/8"}) {
    ASSERT_EQ(testing::Run({"/usr/sbin/ip", "addr", "add", ip, "dev", "lo"})
                  .exit_code,
              0);
  }
  ASSERT_EQ(testing::Run({"/usr/sbin/ip", "link", "set", "lo", "up"}).exit_code,
            0);
}

class SambaMsdfsTest : public ::testing::Test {
 protected:
  void Dfsutil(std::vector<std::string> args) {
    args.insert(args.begin(),
                {DFSUTIL_PATH, "--store", (work_.path() / "store").string()});
    auto r = testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Two content folders (web1, web2, each with a whoami.txt), the
  // namespace \\contoso\webfarm\Site1 -> \\127.0.0.2\web1 (first),
  // \\127.0.0.3\web2, and an smbd serving each folder on its address.
  void StartContentServers() {
    for (const char* web : {"web1", "web2"}) {
      fs::create_directories(work_.path() / web);
      std::ofstream(work_.path() / web / "whoami.txt") << web << "\n";
    }
    fs::permissions(work_.path(), fs::perms::all, fs::perm_options::add);
    Dfsutil({"root", "add", "\\\\contoso\\webfarm"});
    Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\127.0.0.2\\web1", "--priority", "first"});
    Dfsutil({"target", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\127.0.0.3\\web2"});
    web1_ = StartSmbd(work_.path() / "smb-web1", "127.0.0.2",
                      Share("web1", work_.path() / "web1"));
    web2_ = StartSmbd(work_.path() / "smb-web2", "127.0.0.3",
                      Share("web2", work_.path() / "web2"));
  }
  testing::TempDir work_;
  std::unique_ptr<testing::Daemon> web1_, web2_;
};

TEST_F(SambaMsdfsTest, AnySmbClientFollowsTheNamespaceThroughSamba) {
  if (std::getenv("DFS_IN_NETNS") == nullptr) {
    const std::string why = NetnsSkipReason(
        {kSmbd, kSmbclient, kTshark, "/usr/bin/unshare", "/usr/sbin/ip"});
    if (!why.empty()) GTEST_SKIP() << why;
    RunSelfInNetns(
        "SambaMsdfsTest.AnySmbClientFollowsTheNamespaceThroughSamba");
    return;
  }
  LoopbackWithContentAddresses();
  const fs::path root = work_.path() / "msdfs-root";
  StartContentServers();
  testing::Daemon dfsd(
      {DFSD_PATH, "--store", (work_.path() / "store").string(), "--listen",
       "127.0.0.1:0", "--refresh-ms", "100", "--probe-port", "445",
       "--probe-interval-ms", std::to_string(kProbeInterval.count()),
       "--probe-timeout-ms", "300", "--samba-root", root.string(),
       "--samba-namespace", "\\\\contoso\\webfarm"});
  ASSERT_TRUE(dfsd.ReadLine(10s)) << dfsd.Stderr();
  // dfsd prints the share section; Samba serves the root with it.
  std::string section;
  for (int i = 0; i < 8; ++i) section += dfsd.ReadLine(2s).value_or("") + "\n";
  ASSERT_NE(section.find("msdfs root = yes"), std::string::npos) << section;
  ASSERT_NE(section.find("[webfarm]"), std::string::npos) << section;
  auto msdfs = StartSmbd(work_.path() / "smb-root", "127.0.0.1",
                         section.substr(section.find("[webfarm]")));

  // The first target, through a real referral.
  EXPECT_NE(ReadThroughSamba("Site1\\whoami.txt").find("web1"),
            std::string::npos);

  // tshark decodes that referral: two entries, web1 first. It captures
  // for a fixed 8 s; smbclient reads through the link once tshark says it
  // is capturing, and the capture is decoded after tshark ended by itself
  // (so it wrote everything).
  {
    const fs::path capture = work_.path() / "referral.pcap";
    testing::Daemon tshark({kTshark, "-i", "lo", "-f", "tcp port 445", "-a",
                            "duration:8", "-w", capture.string()});
    const auto deadline = SteadyClock::now() + 10s;
    while (tshark.Stderr().find("Capturing on") == std::string::npos &&
           SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(20ms);  // polling tshark's start, bounded
    }
    ASSERT_NE(tshark.Stderr().find("Capturing on"), std::string::npos)
        << tshark.Stderr();
    EXPECT_NE(ReadThroughSamba("Site1\\whoami.txt").find("web1"),
              std::string::npos);
    tshark.Kill(0);  // no signal: reaps it at its own end (8 s)
    auto decoded =
        testing::RunWithin({kTshark, "-r", capture.string(), "-V", "-Y",
                            "smb2.ioctl.function == 0x00060194"},
                           30s);
    EXPECT_NE(decoded.out.find("Num Referrals: 2"), std::string::npos)
        << tshark.Stderr() << decoded.err << decoded.out.substr(0, 4000);
    const size_t first = decoded.out.find("Node: \\127.0.0.2\\web1");
    const size_t second = decoded.out.find("Node: \\127.0.0.3\\web2");
    EXPECT_NE(first, std::string::npos);
    EXPECT_LT(first, second);
  }

  // web1's server stops: within the probe interval and a second its link
  // puts web2 first, and the same command reads web2's file.
  web1_.reset();
  const auto stopped = SteadyClock::now();
  bool moved = false;
  while (!moved && SteadyClock::now() - stopped < kProbeInterval + 1s) {
    moved = fs::read_symlink(root / "Site1").string() ==
            "msdfs:127.0.0.3\\web2,127.0.0.2\\web1";
  }
  EXPECT_TRUE(moved) << fs::read_symlink(root / "Site1") << dfsd.Stderr();
  EXPECT_NE(ReadThroughSamba("Site1\\whoami.txt").find("web2"),
            std::string::npos);

  // A folder added with dfsutil is followable within a second.
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Shops\\Shop1",
           "\\\\127.0.0.3\\web2"});
  const auto added = SteadyClock::now();
  while (!fs::is_symlink(root / "Shops" / "Shop1") &&
         SteadyClock::now() - added < 1s) {
  }
  EXPECT_TRUE(fs::is_symlink(root / "Shops" / "Shop1"));
  EXPECT_NE(ReadThroughSamba("Shops\\Shop1\\whoami.txt").find("web2"),
            std::string::npos);

  // A removed folder's link goes, with the directory it left empty.
  Dfsutil({"link", "remove", "\\\\contoso\\webfarm\\Shops\\Shop1"});
  const auto removed = SteadyClock::now();
  while (fs::exists(root / "Shops") && SteadyClock::now() - removed < 1s) {
  }
  EXPECT_FALSE(fs::exists(root / "Shops"));
  EXPECT_EQ(ReadThroughSamba("Shops\\Shop1\\whoami.txt").find("web2"),
            std::string::npos);
}

// The health a dfsd's status page reports for `server` ("up", "down", or
// "" when it has none yet).
std::string ProbedHealth(uint16_t metrics_port, const std::string& server) {
  testing::TcpClient http(metrics_port);
  http.Send("GET /api/health HTTP/1.0\r\n\r\n");
  std::string answer;
  while (auto chunk = http.Receive(1)) answer += *chunk;
  const std::string entry = "{\"server\":\"" + server + "\",\"up\":";
  const size_t at = answer.find(entry);
  if (at == std::string::npos) return "";
  return answer.compare(at + entry.size(), 4, "true") == 0 ? "up" : "down";
}

// Samba's smbd that hangs (SIGSTOP: the kernel still completes
// connections to port 445) passes a connect probe but not the SMB check:
// dfsd with --probe-check smb marks it down within the probe interval
// plus its timeout, and up again once it answers; a dfsd beside it with
// the connect probe never notices. Both smbd answer the SMB2 NEGOTIATE
// while serving (the check's request is what Samba accepts).
TEST_F(SambaMsdfsTest, TheSmbCheckTellsAHungSmbdFromAServingOne) {
  if (std::getenv("DFS_IN_NETNS") == nullptr) {
    const std::string why =
        NetnsSkipReason({kSmbd, "/usr/bin/unshare", "/usr/sbin/ip"});
    if (!why.empty()) GTEST_SKIP() << why;
    RunSelfInNetns("SambaMsdfsTest.TheSmbCheckTellsAHungSmbdFromAServingOne");
    return;
  }
  LoopbackWithContentAddresses();
  StartContentServers();
  fs::copy(work_.path() / "store", work_.path() / "store-connect",
           fs::copy_options::recursive);
  // A dfsd per check, each with its own copy of the namespace.
  auto start_dfsd = [&](const std::string& store, const std::string& check,
                        uint16_t& metrics_port) {
    auto dfsd = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSD_PATH, "--store", (work_.path() / store).string(), "--listen",
        "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--probe-port", "445",
        "--probe-check", check, "--probe-interval-ms",
        std::to_string(kProbeInterval.count()), "--probe-timeout-ms", "300"});
    auto line = dfsd->ReadLine(10s);
    EXPECT_TRUE(line) << dfsd->Stderr();
    std::smatch m;
    if (line && std::regex_search(*line, m, std::regex("metrics (\\d+)"))) {
      metrics_port = static_cast<uint16_t>(std::stoi(m[1]));
    }
    return dfsd;
  };
  uint16_t smb_port = 0, connect_port = 0;
  auto smb_dfsd = start_dfsd("store", "smb", smb_port);
  auto connect_dfsd = start_dfsd("store-connect", "connect", connect_port);
  ASSERT_NE(smb_port, 0);
  ASSERT_NE(connect_port, 0);
  auto wait_health = [&](uint16_t port, const std::string& server,
                         const std::string& want) {
    const auto deadline = SteadyClock::now() + kProbeInterval + 3s;
    while (ProbedHealth(port, server) != want &&
           SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    return ProbedHealth(port, server);
  };
  // Serving smbd answer the SMB2 NEGOTIATE.
  ASSERT_EQ(wait_health(smb_port, "127.0.0.2", "up"), "up")
      << smb_dfsd->Stderr();
  ASSERT_EQ(wait_health(smb_port, "127.0.0.3", "up"), "up");
  ASSERT_EQ(wait_health(connect_port, "127.0.0.2", "up"), "up");

  ASSERT_TRUE(testing::Freeze(web1_->pid()));
  const auto frozen = SteadyClock::now();
  const std::string smb_says = wait_health(smb_port, "127.0.0.2", "down");
  const auto took = SteadyClock::now() - frozen;
  const std::string connect_says = ProbedHealth(connect_port, "127.0.0.2");
  kill(web1_->pid(), SIGCONT);
  EXPECT_EQ(smb_says, "down") << smb_dfsd->Stderr();
  EXPECT_LT(took, kProbeInterval + 300ms + 1s);
  EXPECT_EQ(connect_says, "up") << "a connect probe cannot see a hang";
  EXPECT_EQ(ProbedHealth(smb_port, "127.0.0.3"), "up");
  EXPECT_EQ(wait_health(smb_port, "127.0.0.2", "up"), "up")
      << smb_dfsd->Stderr();
}

}  // namespace
}  // namespace dfs
