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

class SambaMsdfsTest : public ::testing::Test {
 protected:
  void Dfsutil(std::vector<std::string> args) {
    args.insert(args.begin(),
                {DFSUTIL_PATH, "--store", (work_.path() / "store").string()});
    auto r = testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  testing::TempDir work_;
};

TEST_F(SambaMsdfsTest, AnySmbClientFollowsTheNamespaceThroughSamba) {
  if (std::getenv("DFS_IN_NETNS") == nullptr) {
    for (const char* tool :
         {kSmbd, kSmbclient, kTshark, "/usr/bin/unshare", "/usr/sbin/ip"}) {
      if (!fs::exists(tool)) {
        GTEST_SKIP() << tool << " is not installed (scripts/setup.sh "
                     << "installs samba, smbclient and tshark)";
      }
    }
    if (geteuid() != 0) GTEST_SKIP() << "a network namespace needs root";
    if (testing::Run({"/usr/bin/unshare", "-n", "true"}).exit_code != 0) {
      GTEST_SKIP() << "unshare -n is not allowed here";
    }
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    auto inner = testing::RunWithin(
        {"/usr/bin/unshare", "-n", "/usr/bin/env", "DFS_IN_NETNS=1", self,
         "--gtest_filter=SambaMsdfsTest."
         "AnySmbClientFollowsTheNamespaceThroughSamba"},
        180s);
    EXPECT_FALSE(inner.timed_out);
    EXPECT_EQ(inner.exit_code, 0) << inner.out << inner.err;
    return;
  }

  // Inside the namespace: loopback up, with the two content servers'
  // addresses.
  for (const char* ip : {"127.0.0.2/8", "127.0.0.3/8"}) {
    ASSERT_EQ(testing::Run({"/usr/sbin/ip", "addr", "add", ip, "dev", "lo"})
                  .exit_code,
              0);
  }
  ASSERT_EQ(testing::Run({"/usr/sbin/ip", "link", "set", "lo", "up"}).exit_code,
            0);
  const fs::path root = work_.path() / "msdfs-root";
  for (const char* web : {"web1", "web2"}) {
    fs::create_directories(work_.path() / web);
    std::ofstream(work_.path() / web / "whoami.txt") << web << "\n";
  }
  fs::permissions(work_.path(), fs::perms::all, fs::perm_options::add);

  Dfsutil({"root", "add", "\\\\contoso\\webfarm"});
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site1", "\\\\127.0.0.2\\web1",
           "--priority", "first"});
  Dfsutil(
      {"target", "add", "\\\\contoso\\webfarm\\Site1", "\\\\127.0.0.3\\web2"});
  auto web1 = StartSmbd(work_.path() / "smb-web1", "127.0.0.2",
                        Share("web1", work_.path() / "web1"));
  auto web2 = StartSmbd(work_.path() / "smb-web2", "127.0.0.3",
                        Share("web2", work_.path() / "web2"));
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
  web1.reset();
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

}  // namespace
}  // namespace dfs
