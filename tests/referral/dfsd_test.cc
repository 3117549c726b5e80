// Integration tests: the real dfsd process on 127.0.0.1, with real dfsutil
// writes to its store and real sockets standing in for content servers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "dfs/common/error.h"
#include "dfs/referral/admin.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/namespace_copy.h"
#include "dfs/referral_net/auth.h"
#include "dfs/referral_net/peer_link.h"
#include "dfs/referral_net/server.h"
#include "testing/daemon.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/referral_client.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs::referral {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

using testing::Answer;
using testing::Ask;
using testing::ReadAnswer;
using testing::Targets;

// A key file as an admin makes one: owner-only (dfsd refuses others).
std::string WriteKey(const std::filesystem::path& path,
                     const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0600);
  return path.string();
}

class DfsdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Dfsutil({"root", "add", "\\\\contoso\\webfarm"});
    Dfsutil({"target", "add", "\\\\contoso\\webfarm", "\\\\ns1\\webfarm"});
    Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\web1\\content\\Site1", "--priority", "first"});
    Dfsutil({"target", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\web2\\content\\Site1", "--priority", "last"});
    Dfsutil({"property", "ttl", "set", "\\\\contoso\\webfarm\\Site1", "60"});
  }
  void Dfsutil(std::vector<std::string> args) {
    args.insert(args.begin(),
                {DFSUTIL_PATH, "--store", store_.path().string()});
    auto r = testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Starts dfsd and returns its port.
  uint16_t StartDfsd(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        DFSD_PATH,  "--store",     store_.path().string(),
        "--listen", "127.0.0.1:0", "--refresh-ms",
        "100",      "--metrics",   "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    dfsd_ = std::make_unique<testing::Daemon>(argv);
    auto line = dfsd_->ReadLine(10s);
    EXPECT_TRUE(line) << dfsd_->Stderr();
    if (!line) return 0;
    std::smatch m;
    std::regex re("listening on 127\\.0\\.0\\.1:(\\d+)(?: metrics (\\d+))?");
    EXPECT_TRUE(std::regex_search(*line, m, re)) << *line;
    if (m[2].matched) metrics_port_ = static_cast<uint16_t>(std::stoi(m[2]));
    return static_cast<uint16_t>(std::stoi(m[1]));
  }

  testing::TempDir store_;
  std::unique_ptr<testing::Daemon> dfsd_;
  uint16_t metrics_port_ = 0;
};

TEST_F(DfsdTest, AnswersFolderAndRootReferrals) {
  const uint16_t port = StartDfsd({"--no-probe"});
  testing::TcpClient client(port);
  ASSERT_TRUE(client.connected());
  auto folder = Ask(client, "\\contoso\\webfarm\\Site1\\index.html");
  ASSERT_TRUE(folder);
  ASSERT_EQ(folder->type, FrameType::kReferralResponse);
  auto d = DecodeResponse(folder->payload);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->path_consumed, 44);
  ASSERT_EQ(d->entries.size(), 2u);
  EXPECT_EQ(d->entries[0].version, 4);
  EXPECT_EQ(d->entries[0].ttl, 60u);
  EXPECT_EQ(d->entries[0].network_address, "\\web1\\content\\Site1");
  EXPECT_EQ(d->entries[1].network_address, "\\web2\\content\\Site1");
  auto root = Ask(client, "\\CONTOSO\\webfarm", 3);
  ASSERT_TRUE(root);
  auto rd = DecodeResponse(root->payload);
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->entries[0].version, 3);
  EXPECT_EQ(rd->entries[0].server_type, 1);
  EXPECT_TRUE(rd->header_flags & kReferralServers);
  auto missing = Ask(client, "\\fabrikam\\x");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->type, FrameType::kError);
  EXPECT_EQ(missing->payload.substr(0, 4),
            std::string("\x25\x02\x00\xC0", 4));  // STATUS_NOT_FOUND
}

TEST_F(DfsdTest, SeesDfsutilChangesLive) {
  const uint16_t port = StartDfsd({"--no-probe"});
  testing::TcpClient client(port);
  auto before = Ask(client, "\\contoso\\webfarm\\Site2");
  ASSERT_TRUE(before);
  EXPECT_TRUE(DecodeResponse(before->payload)->entries[0].server_type ==
              1);  // root referral
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site2",
           "\\\\web9\\content\\Site2"});
  const auto changed = SteadyClock::now();
  bool seen = false;
  while (!seen && SteadyClock::now() - changed < 5s) {
    auto a = Ask(client, "\\contoso\\webfarm\\Site2");
    ASSERT_TRUE(a);
    seen = Targets(*a) == std::vector<std::string>{"\\web9\\content\\Site2"};
  }
  ASSERT_TRUE(seen) << dfsd_->Stderr();
  // The refresh period is 100 ms; the issue asks for "within a second".
  EXPECT_LT(SteadyClock::now() - changed, 2s);
  EXPECT_NE(dfsd_->Stderr().find("DFS1003 namespace changed"),
            std::string::npos);
}

TEST_F(DfsdTest, DeadTargetServerMovesBehindAndReturns) {
  testing::FakeContentServer web1, web2;
  const uint16_t web1_port = web1.port();
  const uint16_t port =
      StartDfsd({"--probe", "web1=127.0.0.1:" + std::to_string(web1_port),
                 "--probe", "web2=127.0.0.1:" + std::to_string(web2.port()),
                 "--probe", "ns1=127.0.0.1:" + std::to_string(web2.port()),
                 "--probe-interval-ms", "150", "--probe-timeout-ms", "500"});
  testing::TcpClient client(port);
  auto wait_for = [&](const std::vector<std::string>& want) {
    const auto start = SteadyClock::now();
    while (SteadyClock::now() - start < 5s) {
      auto a = Ask(client, "\\contoso\\webfarm\\Site1");
      if (a && Targets(*a) == want) return SteadyClock::now() - start;
    }
    return SteadyClock::duration::max();
  };
  const std::vector<std::string> normal = {"\\web1\\content\\Site1",
                                           "\\web2\\content\\Site1"};
  const std::vector<std::string> failed = {"\\web2\\content\\Site1",
                                           "\\web1\\content\\Site1"};
  ASSERT_NE(wait_for(normal), SteadyClock::duration::max());
  web1.Close();
  const auto down_after = wait_for(failed);
  ASSERT_NE(down_after, SteadyClock::duration::max()) << dfsd_->Stderr();
  // Two probe intervals (300 ms) plus scheduling slack.
  EXPECT_LT(down_after, 1500ms);
  web1.Open(web1_port);
  ASSERT_NE(wait_for(normal), SteadyClock::duration::max()) << dfsd_->Stderr();
  const std::string log = dfsd_->Stderr();
  EXPECT_NE(log.find("DFS1001 target server down: web1"), std::string::npos)
      << log;
  EXPECT_NE(log.find("DFS1002 target server up: web1"), std::string::npos)
      << log;
}

// A real web server (Debian's nginx, one process) on 127.0.0.1:`port`
// serving `root`; nothing when nginx is not installed or did not start.
std::unique_ptr<testing::Daemon> StartNginx(const std::filesystem::path& dir,
                                            uint16_t port) {
  const char* const kNginx = "/usr/sbin/nginx";
  if (!std::filesystem::exists(kNginx)) return nullptr;
  std::filesystem::create_directories(dir / "root");
  std::filesystem::create_directories(dir / "tmp");
  std::ofstream(dir / "root" / "index.html") << "hello\n";
  // As root, a single nginx process stays root (it reads a private temp
  // folder); otherwise it runs as whoever started it.
  std::ofstream(dir / "nginx.conf")
      << (geteuid() == 0 ? "user root;\n" : "")
      << "master_process off;\ndaemon off;\npid "
      << (dir / "nginx.pid").string() << ";\nerror_log "
      << (dir / "error.log").string()
      << " warn;\nevents { worker_connections 64; }\nhttp {\n  access_log "
         "off;\n"
      << "  client_body_temp_path " << (dir / "tmp").string() << ";\n"
      << "  proxy_temp_path " << (dir / "tmp").string() << ";\n"
      << "  fastcgi_temp_path " << (dir / "tmp").string() << ";\n"
      << "  uwsgi_temp_path " << (dir / "tmp").string() << ";\n"
      << "  scgi_temp_path " << (dir / "tmp").string() << ";\n"
      << "  server { listen 127.0.0.1:" << port << "; root "
      << (dir / "root").string() << "; }\n}\n";
  auto nginx = std::make_unique<testing::Daemon>(std::vector<std::string>{
      kNginx, "-p", dir.string(), "-e", (dir / "error.log").string(), "-c",
      (dir / "nginx.conf").string()});
  // Started once it answers (bounded).
  const auto deadline = SteadyClock::now() + 10s;
  while (SteadyClock::now() < deadline) {
    testing::TcpClient http(port);
    if (http.connected() && http.Send("HEAD / HTTP/1.0\r\n\r\n")) {
      if (auto line = http.Receive(12);
          line && line->starts_with("HTTP/1.1 200"))
        return nginx;
    }
    std::this_thread::sleep_for(20ms);
  }
  return nullptr;
}

// A content server that hangs (SIGSTOP: the kernel still completes TCP
// connections to it) passes a connect probe but not an HTTP check: with
// --probe-check http dfsd puts it last within the probe interval plus
// its timeout, and first again once it answers. A dfsd with the connect
// check, beside it, keeps handing out the hung server first.
TEST_F(DfsdTest, AHungTargetServerFailsTheHttpCheckButNotTheConnectProbe) {
  testing::TempDir web;
  testing::FakeContentServer taken;  // two ports for the two nginx
  testing::FakeContentServer taken2;
  const uint16_t web1_port = taken.port(), web2_port = taken2.port();
  taken.Close();
  taken2.Close();
  auto web1 = StartNginx(web.path() / "web1", web1_port);
  auto web2 = StartNginx(web.path() / "web2", web2_port);
  if (!web1 || !web2) {
    GTEST_SKIP() << "nginx is not installed or did not start (scripts/setup.sh "
                    "installs nginx-light)";
  }
  // The same namespace for a dfsd with the connect probe.
  testing::TempDir connect_store;
  std::filesystem::copy(store_.path(), connect_store.path(),
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::overwrite_existing);
  const std::vector<std::string> probes = {
      "--probe",
      "web1=127.0.0.1:" + std::to_string(web1_port),
      "--probe",
      "web2=127.0.0.1:" + std::to_string(web2_port),
      "--probe",
      "ns1=127.0.0.1:" + std::to_string(web2_port),
      "--probe-interval-ms",
      "150",
      "--probe-timeout-ms",
      "300"};
  std::vector<std::string> http_args = probes;
  http_args.insert(http_args.end(), {"--probe-check", "http"});
  const uint16_t port = StartDfsd(http_args);
  std::vector<std::string> connect_argv = {
      DFSD_PATH,  "--store",     connect_store.path().string(),
      "--listen", "127.0.0.1:0", "--refresh-ms",
      "100"};
  connect_argv.insert(connect_argv.end(), probes.begin(), probes.end());
  testing::Daemon connect_dfsd(connect_argv);
  auto line = connect_dfsd.ReadLine(10s);
  ASSERT_TRUE(line) << connect_dfsd.Stderr();
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(*line, m, std::regex("127\\.0\\.0\\.1:(\\d+)")));
  const uint16_t connect_port = static_cast<uint16_t>(std::stoi(m[1]));

  testing::TcpClient client(port), connect_client(connect_port);
  const std::vector<std::string> normal = {"\\web1\\content\\Site1",
                                           "\\web2\\content\\Site1"};
  const std::vector<std::string> failed = {"\\web2\\content\\Site1",
                                           "\\web1\\content\\Site1"};
  auto wait_for = [&](testing::TcpClient& c,
                      const std::vector<std::string>& want) {
    const auto start = SteadyClock::now();
    while (SteadyClock::now() - start < 5s) {
      auto a = Ask(c, "\\contoso\\webfarm\\Site1");
      if (a && Targets(*a) == want) return SteadyClock::now() - start;
      std::this_thread::sleep_for(10ms);
    }
    return SteadyClock::duration::max();
  };
  ASSERT_NE(wait_for(client, normal), SteadyClock::duration::max())
      << dfsd_->Stderr();
  ASSERT_NE(wait_for(connect_client, normal), SteadyClock::duration::max());

  ASSERT_TRUE(testing::Freeze(web1->pid()));
  const auto down_after = wait_for(client, failed);
  // What the connect probe says meanwhile: web1 first, as if serving.
  auto connect_answer = Ask(connect_client, "\\contoso\\webfarm\\Site1");
  kill(web1->pid(), SIGCONT);
  ASSERT_NE(down_after, SteadyClock::duration::max()) << dfsd_->Stderr();
  // Interval (150 ms) + timeout (300 ms), twice over, and slack.
  EXPECT_LT(down_after, 1500ms);
  ASSERT_TRUE(connect_answer);
  EXPECT_EQ(Targets(*connect_answer), normal)
      << "the connect probe cannot see a hang";

  ASSERT_NE(wait_for(client, normal), SteadyClock::duration::max())
      << dfsd_->Stderr();
  const std::string log = dfsd_->Stderr();
  EXPECT_NE(log.find("DFS1001 target server down: web1"), std::string::npos)
      << log;
  EXPECT_NE(log.find("DFS1002 target server up: web1"), std::string::npos);
  EXPECT_EQ(connect_dfsd.Stderr().find("DFS1001 target server down: web1"),
            std::string::npos);
}

TEST_F(DfsdTest, HostileFramesCloseOnlyThatConnection) {
  const uint16_t port = StartDfsd({"--no-probe", "--idle-timeout-ms", "500"});
  testing::TcpClient good(port);
  {
    testing::TcpClient huge(port);
    ASSERT_TRUE(huge.Send(std::string("\x7f\xff\xff\xff\x01", 5)));
    EXPECT_TRUE(huge.PeerClosed());
  }
  {
    testing::TcpClient junk(port);
    ASSERT_TRUE(junk.Send(EncodeFrame(FrameType::kReferralRequest,
                                      std::string("\x04\x00\x41", 3))));
    auto header = junk.Receive(kFrameHeaderBytes);
    ASSERT_TRUE(header);
    EXPECT_EQ((*header)[4], static_cast<char>(FrameType::kError));
  }
  {
    testing::TcpClient old_level(port);
    auto a = Ask(old_level, "\\contoso\\webfarm\\Site1", 2);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, FrameType::kError);
  }
  // The well-behaved connection was never disturbed.
  auto fine = Ask(good, "\\contoso\\webfarm\\Site1");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->type, FrameType::kReferralResponse);
  {
    testing::TcpClient idle(port);
    const auto start = SteadyClock::now();
    EXPECT_TRUE(idle.PeerClosed());  // closed by the idle timeout
    EXPECT_LT(SteadyClock::now() - start, 4s);
  }
  // A request split across many writes still works.
  testing::TcpClient slow(port);
  std::string frame =
      EncodeFrame(FrameType::kReferralRequest,
                  EncodeRequest({4, "\\contoso\\webfarm\\Site1"}));
  for (char c : frame) ASSERT_TRUE(slow.Send(std::string(1, c)));
  auto header = slow.Receive(kFrameHeaderBytes);
  ASSERT_TRUE(header);
  EXPECT_EQ((*header)[4], static_cast<char>(FrameType::kReferralResponse));
}

TEST_F(DfsdTest, ManyClientsAtOnce) {
  const uint16_t port = StartDfsd({"--no-probe"});
  constexpr int kClients = 50, kEach = 40;
  std::vector<std::unique_ptr<testing::TcpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<testing::TcpClient>(port));
    ASSERT_TRUE(clients.back()->connected());
  }
  int ok = 0;
  for (int round = 0; round < kEach; ++round) {
    for (auto& c : clients) {
      auto a = Ask(*c, "\\contoso\\webfarm\\Site1\\x");
      ok += (a && a->type == FrameType::kReferralResponse) ? 1 : 0;
    }
  }
  EXPECT_EQ(ok, kClients * kEach);
}

// Issue 15: referrals are answered on every core. Eight clients ask on
// four referral threads while the namespace changes under them: every
// answer is one the namespace held (the index is never read half changed),
// each change is seen within a bound under that load (a writer is not
// starved by the readers), and the per-thread counters add up to what the
// clients were answered.
TEST_F(DfsdTest, Issue15EveryReferralThreadAnswersFromTheNamespaceAsItChanges) {
  const uint16_t port = StartDfsd({"--no-probe", "--threads", "4"});
  const std::vector<std::string> without = {"\\web1\\content\\Site1",
                                            "\\web2\\content\\Site1"};
  const std::vector<std::string> with = {"\\web1\\content\\Site1",
                                         "\\web3\\content\\Site1",
                                         "\\web2\\content\\Site1"};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> answered{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      testing::TcpClient client(port);
      // Bounded in count as well as by `stop`.
      for (int i = 0; i < 200000 && !stop; ++i) {
        auto a = Ask(client, "\\contoso\\webfarm\\Site1\\index.html");
        if (!a || a->type != FrameType::kReferralResponse) {
          ++wrong;
          return;
        }
        ++answered;
        const auto targets = Targets(*a);
        if (targets != without && targets != with) ++wrong;
      }
    });
  }
  // Each change must reach a client asking under that load within 3 s.
  testing::TcpClient observer(port);
  uint64_t observed = 0;
  auto wait_for = [&](const std::vector<std::string>& expected) {
    const auto deadline = SteadyClock::now() + 3s;
    while (SteadyClock::now() < deadline) {
      auto a = Ask(observer, "\\contoso\\webfarm\\Site1");
      if (!a) return false;
      ++observed;
      if (Targets(*a) == expected) return true;
    }
    return false;
  };
  for (int round = 0; round < 5; ++round) {
    Dfsutil({"target", "add", "\\\\contoso\\webfarm\\Site1",
             "\\\\web3\\content\\Site1"});
    EXPECT_TRUE(wait_for(with)) << "round " << round;
    Dfsutil({"target", "remove", "\\\\contoso\\webfarm\\Site1",
             "\\\\web3\\content\\Site1"});
    EXPECT_TRUE(wait_for(without)) << "round " << round;
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(answered.load(), 0u);

  testing::TcpClient http(metrics_port_);
  ASSERT_TRUE(http.Send("GET /metrics HTTP/1.0\r\n\r\n"));
  std::string body;
  while (auto chunk = http.Receive(1)) body += *chunk;
  EXPECT_NE(body.find("dfs_referral_workers 4\n"), std::string::npos) << body;
  EXPECT_NE(body.find("dfs_referrals_total{result=\"ok\"} " +
                      std::to_string(answered + observed) + "\n"),
            std::string::npos)
      << body << "\nanswered " << answered << " + observed " << observed;
}

// Issue 12: one address could hold every connection slot, and the limit
// (4096) was above the usual descriptor limit (1024), so dfsd met EMFILE
// first and its accept loop spun with nothing logged.
TEST_F(DfsdTest, Issue12OneAddressCannotHoldEverySlot) {
  const uint16_t port =
      StartDfsd({"--no-probe", "--max-connections-per-address", "4"});
  std::vector<std::unique_ptr<testing::TcpClient>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<testing::TcpClient>(port));
    auto a = Ask(*held.back(), "\\contoso\\webfarm\\Site1\\x");
    ASSERT_TRUE(a && a->type == FrameType::kReferralResponse) << i;
  }
  for (int i = 0; i < 30; ++i) {  // refused: closed at once
    testing::TcpClient extra(port);
    ASSERT_TRUE(extra.connected());
    EXPECT_TRUE(extra.PeerClosed()) << i;
  }
  // Another address still gets in (127.0.0.2 is loopback too).
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000002);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  auto to = testing::Loopback(port);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  const std::string frame =
      EncodeFrame(FrameType::kReferralRequest,
                  EncodeRequest({4, "\\contoso\\webfarm\\Site1\\x"}));
  ASSERT_EQ(send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char header[5];
  EXPECT_EQ(recv(fd, header, sizeof header, MSG_WAITALL), 5);
  close(fd);
  // A freed slot is usable again.
  held.pop_back();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    testing::TcpClient again(port);
    auto a = Ask(again, "\\contoso\\webfarm\\Site1\\x");
    served = a && a->type == FrameType::kReferralResponse;
  }
  EXPECT_TRUE(served);
  // Thirty refusals, one log line.
  const std::string log = dfsd_->Stderr();
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("DFS1006", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
}

TEST_F(DfsdTest, Issue12TheConnectionLimitFollowsTheDescriptorLimit) {
  // Under a descriptor limit of 128, asking for 4096 connections is
  // capped (and said) rather than met with EMFILE.
  dfsd_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
      "/usr/bin/prlimit", "--nofile=128:128", DFSD_PATH, "--store",
      store_.path().string(), "--listen", "127.0.0.1:0", "--no-probe",
      "--max-connections", "4096"});
  auto line = dfsd_->ReadLine(10s);
  ASSERT_TRUE(line) << dfsd_->Stderr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(":(\\d+)")));
  const uint16_t port = static_cast<uint16_t>(std::stoi(m[1]));
  EXPECT_NE(dfsd_->Stderr().find("at most 64 connections"), std::string::npos)
      << dfsd_->Stderr();
  std::vector<std::unique_ptr<testing::TcpClient>> clients;
  int answered = 0;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<testing::TcpClient>(port, 2000));
    auto a = Ask(*clients.back(), "\\contoso\\webfarm\\Site1\\x");
    answered += a && a->type == FrameType::kReferralResponse;
  }
  // 16 per address by default: the rest were refused, none hung.
  EXPECT_EQ(answered, 16);
  clients.clear();
  // Once dfsd has seen those connections close (it learns it from their
  // sockets, a moment later), their slots are free again: a new one is
  // answered. Polled, at most 5 s.
  bool served_again = false;
  const auto deadline = SteadyClock::now() + 5s;
  while (!served_again && SteadyClock::now() < deadline) {
    testing::TcpClient after(port);
    auto a = Ask(after, "\\contoso\\webfarm\\Site1\\x");
    served_again = a && a->type == FrameType::kReferralResponse;
    if (!served_again) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served_again);
}

// Issue 12: the conformance points an MS-DFSC client written from the
// spec found, through a real dfsd.
TEST_F(DfsdTest, Issue12AnswersAsMsDfscSays) {
  Dfsutil({"property", "failback", "set", "\\\\contoso\\webfarm\\Site1", "on"});
  const uint16_t port = StartDfsd({"--no-probe"});
  testing::TcpClient client(port);
  // V3: no TargetFailback bit (V4 only).
  auto v3 = Ask(client, "\\contoso\\webfarm\\Site1\\x", 3);
  ASSERT_TRUE(v3 && v3->type == FrameType::kReferralResponse);
  EXPECT_EQ(DecodeResponse(v3->payload)->header_flags & kTargetFailback, 0u);
  auto v4 = Ask(client, "\\contoso\\webfarm\\Site1\\x", 4);
  EXPECT_NE(DecodeResponse(v4->payload)->header_flags & kTargetFailback, 0u);
  // A long non-ASCII file name below a folder is the target's business.
  std::string cjk;
  for (int i = 0; i < 86; ++i) cjk += "\xe6\xbc\xa2";
  auto named = Ask(client, "\\contoso\\webfarm\\Site1\\" + cjk + "\\a.");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->type, FrameType::kReferralResponse);
  // Every target offline: success with zero entries.
  Dfsutil({"property", "state", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web1\\content\\Site1", "offline"});
  Dfsutil({"property", "state", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web2\\content\\Site1", "offline"});
  bool empty = false;
  for (int i = 0; i < 100 && !empty; ++i) {  // dfsd refreshes every 100 ms
    auto a = Ask(client, "\\contoso\\webfarm\\Site1\\x");
    ASSERT_TRUE(a);
    empty = a->type == FrameType::kReferralResponse &&
            DecodeResponse(a->payload)->entries.empty();
    if (!empty) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(empty);
}

TEST_F(DfsdTest, MetricsCountWhatHappened) {
  const uint16_t port = StartDfsd({"--no-probe"});
  ASSERT_NE(metrics_port_, 0);
  testing::TcpClient client(port);
  ASSERT_TRUE(Ask(client, "\\contoso\\webfarm\\Site1"));
  ASSERT_TRUE(Ask(client, "\\nope\\x"));
  testing::TcpClient http(metrics_port_);
  ASSERT_TRUE(http.Send("GET /metrics HTTP/1.0\r\n\r\n"));
  std::string body;
  while (auto chunk = http.Receive(1)) body += *chunk;
  EXPECT_NE(body.find("200 OK"), std::string::npos);
  EXPECT_NE(body.find("dfs_referrals_total{result=\"ok\"} 1"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("dfs_referrals_total{result=\"not_found\"} 1"),
            std::string::npos);
  EXPECT_NE(body.find("dfs_referral_latency_seconds_count 1"),
            std::string::npos);
  EXPECT_NE(body.find("dfs_namespace_serial 5"), std::string::npos);
}

TEST_F(DfsdTest, KilledServerRestartsFromTheStore) {
  uint16_t port = StartDfsd({"--no-probe"});
  {
    testing::TcpClient client(port);
    ASSERT_TRUE(Ask(client, "\\contoso\\webfarm\\Site1"));
  }
  dfsd_->Kill(SIGKILL);
  // Changes made while it is down are there when it comes back.
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site3", "\\\\web3\\c"});
  port = StartDfsd({"--no-probe"});
  testing::TcpClient client(port);
  auto a = Ask(client, "\\contoso\\webfarm\\Site3\\x");
  ASSERT_TRUE(a);
  EXPECT_EQ(Targets(*a), std::vector<std::string>{"\\web3\\c"});
}

}  // namespace
}  // namespace dfs::referral

namespace dfs::referral {
namespace {

class ReplicaTest : public DfsdTest {
 protected:
  uint16_t StartReplica(std::string key = "") {
    if (key.empty()) key = replica_key_;
    replica_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSD_PATH, "--store", replica_store_.path().string(), "--listen",
        "127.0.0.1:0", "--refresh-ms", "100", "--no-probe", "--replica-key",
        key, "--replica-of", "127.0.0.1:" + std::to_string(primary_port_)});
    auto line = replica_->ReadLine(10s);
    EXPECT_TRUE(line) << replica_->Stderr();
    if (!line) return 0;
    std::smatch m;
    std::regex re("listening on 127\\.0\\.0\\.1:(\\d+)");
    EXPECT_TRUE(std::regex_search(*line, m, re));
    return static_cast<uint16_t>(std::stoi(m[1]));
  }
  // Asks `port` until the path's first target is `want` or 10 s pass.
  bool Eventually(uint16_t port, const std::string& path,
                  const std::string& want) {
    const auto start = SteadyClock::now();
    while (SteadyClock::now() - start < 10s) {
      testing::TcpClient client(port, 1000);
      if (!client.connected()) continue;
      auto a = Ask(client, path);
      if (a && a->type == FrameType::kReferralResponse) {
        auto t = Targets(*a);
        if (!t.empty() && t[0] == want) return true;
      }
    }
    return false;
  }
  void SetUp() override {
    DfsdTest::SetUp();
    replica_key_ = WriteKey(keys_.path() / "replica.key",
                            "replica-key-0123456789abcdef0123456789\n");
    primary_port_ = StartDfsd({"--no-probe", "--replica-key", replica_key_});
  }

  testing::TempDir keys_;
  std::string replica_key_;
  testing::TempDir replica_store_;
  std::unique_ptr<testing::Daemon> replica_;
  uint16_t primary_port_ = 0;
};

TEST_F(ReplicaTest, CatchesUpLiveAndAfterARestart) {
  uint16_t replica = StartReplica();
  ASSERT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site1",
                         "\\web1\\content\\Site1"))
      << replica_->Stderr();
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site2", "\\\\web2\\c"});
  EXPECT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site2", "\\web2\\c"))
      << replica_->Stderr();
  replica_->Kill(SIGKILL);
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Site3", "\\\\web3\\c"});
  Dfsutil({"property", "priority", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web2\\content\\Site1", "first", "0"});
  Dfsutil({"property", "priority", "set", "\\\\contoso\\webfarm\\Site1",
           "\\\\web1\\content\\Site1", "last"});
  replica = StartReplica();
  EXPECT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site3", "\\web3\\c"))
      << replica_->Stderr();
  EXPECT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site1",
                         "\\web2\\content\\Site1"));
  // The replica's store refuses local writes.
  auto r =
      testing::Run({DFSUTIL_PATH, "--store", replica_store_.path().string(),
                    "link", "add", "\\\\contoso\\webfarm\\X", "\\\\w\\x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("replica of"), std::string::npos) << r.err;
}

// Issue 12: a primary that claims a higher serial but sends no entries
// made the replica ask again at once, forever (416k requests in 12 s).
TEST_F(DfsdTest, Issue12AReplicaDoesNotSpinOnAPrimaryThatSendsNothing) {
  testing::TempDir keys;
  const std::string key = "replica-key-0123456789abcdef0123456789";
  const std::string key_file = WriteKey(keys.path() / "k", key + "\n");
  // The lying primary: answers every changes request with "I am at your
  // serial + 100" and no entries. Counts the requests.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto any = testing::Loopback(0);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof any;
  getsockname(listener, reinterpret_cast<sockaddr*>(&any), &len);
  const uint16_t fake_port = ntohs(any.sin_port);
  std::atomic<int> requests{0};
  std::atomic<bool> stop{false};
  std::thread primary([&] {
    timeval tv{0, 200000};
    setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!stop) {
      const int c = accept(listener, nullptr, nullptr);
      if (c < 0) continue;
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      Framer framer(kMaxReplicationFrameBytes);
      std::string client_nonce;
      std::optional<referral::FrameSealer> sealer;
      char buf[4096];
      while (!stop) {
        const ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) continue;
        auto frames = framer.Feed(std::string_view(buf, n));
        if (!frames) break;
        for (const auto& f : *frames) {
          std::string reply;
          if (f.type == FrameType::kAdminHello) {
            // It holds the key: the replica's trouble with it is only that
            // it never sends what it claims.
            client_nonce = f.payload.substr(1);
            const std::string server_nonce(32, 's');
            reply = EncodeFrame(
                FrameType::kAdminChallenge,
                server_nonce + referral::ServerProof(
                                   key, referral::SessionPurpose::kReplication,
                                   client_nonce, server_nonce));
            sealer.emplace(referral::SessionKey(
                               key, referral::SessionPurpose::kReplication,
                               client_nonce, server_nonce),
                           /*is_client=*/false);
          } else if (f.type == FrameType::kAdminAuth && sealer) {
            reply = sealer->Seal(FrameType::kAdminResult,
                                 EncodeAdminResult({0, "ok", ""}));
          } else if (sealer) {
            auto opened = sealer->Open(f);
            if (!opened) continue;
            auto req = DecodeChangesRequest(*opened);
            if (!req) continue;
            ++requests;
            reply =
                sealer->Seal(FrameType::kChangesReply,
                             EncodeChangesReply({false, req->since + 100, {}}));
          }
          send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
      }
      close(c);
    }
  });
  testing::TempDir replica_store;
  testing::Daemon replica(
      {DFSD_PATH, "--store", replica_store.path().string(), "--listen",
       "127.0.0.1:0", "--no-probe", "--refresh-ms", "100", "--replica-key",
       key_file, "--replica-of", "127.0.0.1:" + std::to_string(fake_port)});
  ASSERT_TRUE(replica.ReadLine(10s));
  std::this_thread::sleep_for(3s);  // the window over which requests count
  stop = true;
  primary.join();
  close(listener);
  // At 100 ms with backoff: about ten; the old loop asked >100,000 times.
  EXPECT_LE(requests.load(), 40);
  EXPECT_GE(requests.load(), 2);
  EXPECT_NE(replica.Stderr().find("sent nothing"), std::string::npos)
      << replica.Stderr();
}

TEST_F(ReplicaTest, KeepsAnsweringWhenThePrimaryDies) {
  const uint16_t replica = StartReplica();
  ASSERT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site1",
                         "\\web1\\content\\Site1"));
  dfsd_->Kill(SIGKILL);
  // Every request over several refresh periods is still answered.
  testing::TcpClient client(replica);
  for (int i = 0; i < 50; ++i) {
    auto a = Ask(client, "\\contoso\\webfarm\\Site1\\x");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, FrameType::kReferralResponse);
  }
  // It notices; a new primary process on the same store is followed again.
  const auto start = SteadyClock::now();
  while (replica_->Stderr().find("DFS1013") == std::string::npos &&
         SteadyClock::now() - start < 10s) {
    ASSERT_TRUE(Ask(client, "\\contoso\\webfarm\\Site1"));
  }
  EXPECT_NE(replica_->Stderr().find("DFS1013 primary"), std::string::npos);
}

TEST_F(ReplicaTest, HugeChangeIsCopiedAsASnapshot) {
  const uint16_t replica = StartReplica();
  ASSERT_TRUE(Eventually(replica, "\\contoso\\webfarm\\Site1",
                         "\\web1\\content\\Site1"));
  // More than 10,000 records in one change: the log says "resync".
  std::string xml = "<Root Name=\"\\\\contoso\\webfarm\">";
  for (int i = 0; i < 10050; ++i) {
    xml += "<Link Name=\"F" + std::to_string(i) + "\"><Target>\\\\w" +
           std::to_string(i % 7) + "\\s</Target></Link>";
  }
  xml += "</Root>";
  const std::string file = (replica_store_.path() / "big.xml").string();
  std::ofstream(file) << xml;
  Dfsutil(
      {"root", "import", "set", "--no-backup", file, "\\\\contoso\\webfarm"});
  EXPECT_TRUE(Eventually(replica, "\\contoso\\webfarm\\F10049\\x", "\\w4\\s"))
      << replica_->Stderr();
  EXPECT_NE(replica_->Stderr().find("DFS1012"), std::string::npos);
}

}  // namespace
}  // namespace dfs::referral

namespace dfs::referral {
namespace {

// Sites configured in the store steer referrals by the client's address:
// every client here is 127.0.0.1.
TEST_F(DfsdTest, ClientSiteFromTheStoreOrdersTargets) {
  Dfsutil({"link", "add", "\\\\contoso\\webfarm\\Geo", "\\\\far\\c", "--site",
           "Remote"});
  Dfsutil({"target", "add", "\\\\contoso\\webfarm\\Geo", "\\\\near\\c",
           "--site", "Lab"});
  const uint16_t port = StartDfsd({"--no-probe"});
  testing::TcpClient client(port);
  // No sites yet: both cost the same, so over many answers both lead.
  std::set<std::string> leaders;
  for (int i = 0; i < 64; ++i) {
    auto a = Ask(client, "\\contoso\\webfarm\\Geo");
    ASSERT_TRUE(a);
    leaders.insert(Targets(*a).at(0));
  }
  EXPECT_EQ(leaders.size(), 2u);
  Dfsutil({"site", "subnet", "add", "127.0.0.0/8", "Lab"});
  const auto start = SteadyClock::now();
  int near_first = 0;
  while (near_first < 32 && SteadyClock::now() - start < 5s) {
    auto a = Ask(client, "\\contoso\\webfarm\\Geo");
    ASSERT_TRUE(a);
    near_first = Targets(*a).at(0) == "\\near\\c" ? near_first + 1 : 0;
  }
  EXPECT_EQ(near_first, 32) << dfsd_->Stderr();
}

}  // namespace
}  // namespace dfs::referral

namespace dfs::referral {
namespace {

class RemoteAdminTest : public DfsdTest {
 protected:
  void SetUp() override {
    DfsdTest::SetUp();
    key_ =
        WriteKey(files_.path() / "key", "0123456789abcdef0123456789abcdef\n");
    wrong_ = WriteKey(files_.path() / "wrong",
                      "not-the-key-not-the-key-not-the-key\n");
    port_ = StartDfsd({"--no-probe", "--admin-key", key_});
    server_ = "127.0.0.1:" + std::to_string(port_);
  }
  testing::ProcessResult Remote(const std::string& key,
                                std::vector<std::string> args) {
    std::vector<std::string> argv = {DFSUTIL_PATH, "--server", server_};
    if (!key.empty()) {
      argv.push_back("--key");
      argv.push_back(key);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::Run(argv);
  }
  std::string Serial() {
    auto r = testing::Run(
        {DFSUTIL_PATH, "--store", store_.path().string(), "store", "info"});
    return r.out.substr(
        r.out.find("serial:"),
        r.out.find('\n', r.out.find("serial:")) - r.out.find("serial:"));
  }

  testing::TempDir files_;
  std::string key_, wrong_, server_;
  uint16_t port_ = 0;
};

TEST_F(RemoteAdminTest, ChangesNeedTheKey) {
  const std::string before = Serial();
  auto wrong = Remote(
      wrong_, {"link", "add", "\\\\contoso\\webfarm\\Evil", "\\\\evil\\c"});
  EXPECT_EQ(wrong.exit_code, 1);
  // The server proves the key first: a client with another key stops there.
  EXPECT_NE(wrong.err.find("did not prove it holds the key"), std::string::npos)
      << wrong.err;
  auto none =
      Remote("", {"link", "add", "\\\\contoso\\webfarm\\Evil", "\\\\evil\\c"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("--key"), std::string::npos);
  // A hand-made client that skips the handshake is refused too.
  testing::TcpClient raw(port_);
  ASSERT_TRUE(raw.Send(EncodeFrame(
      FrameType::kAdminCommand,
      EncodeAdminCommand(
          {{"link", "add", "\\\\contoso\\webfarm\\Evil", "\\\\e\\c"}, ""}))));
  auto header = raw.Receive(kFrameHeaderBytes);
  ASSERT_TRUE(header);
  EXPECT_EQ((*header)[4], static_cast<char>(FrameType::kError));
  EXPECT_EQ(Serial(), before);
  EXPECT_NE(dfsd_->Stderr().find("DFS1020 session refused"), std::string::npos);

  auto ok = Remote(
      key_, {"link", "add", "\\\\contoso\\webfarm\\Site7", "\\\\web7\\c"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("ok: link add"), std::string::npos);
  testing::TcpClient client(port_);
  const auto start = SteadyClock::now();
  bool seen = false;
  while (!seen && SteadyClock::now() - start < 5s) {
    auto a = Ask(client, "\\contoso\\webfarm\\Site7");
    seen = a && Targets(*a) == std::vector<std::string>{"\\web7\\c"};
  }
  EXPECT_TRUE(seen);
  // Errors come back with the command's own exit code and message.
  auto bad =
      Remote(key_, {"link", "add", "\\\\contoso\\webfarm\\..\\x", "\\\\w\\c"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("'..' is not allowed"), std::string::npos);
}

TEST_F(RemoteAdminTest, ExportAndImportMoveFilesBetweenClientAndServer) {
  const std::string file = (files_.path() / "export.xml").string();
  auto exported =
      Remote(key_, {"root", "export", "\\\\contoso\\webfarm", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream in(file);
  std::string xml((std::istreambuf_iterator<char>(in)), {});
  ASSERT_NE(xml.find("<Link Name=\"Site1\""), std::string::npos) << xml;
  xml.replace(xml.find("Name=\"Site1\""), 12, "Name=\"Site8\"");
  std::ofstream(file) << xml;
  auto merged = Remote(key_, {"--json", "root", "import", "merge", file,
                              "\\\\contoso\\webfarm"});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_NE(merged.out.find("\"added\":1"), std::string::npos) << merged.out;
  auto shown = Remote(key_, {"--json", "show", "\\\\contoso\\webfarm\\Site8"});
  ASSERT_EQ(shown.exit_code, 0);
  EXPECT_NE(shown.out.find("\\\\\\\\web1\\\\content\\\\Site1"),
            std::string::npos)
      << shown.out;
  // What would touch the server's own files is refused.
  auto raw = Remote(
      key_, {"diag", "referral", "\\contoso\\webfarm", "--raw", "/tmp/x"});
  EXPECT_NE(raw.exit_code, 0);
  EXPECT_NE(raw.err.find("not available remotely"), std::string::npos);
}

// Issue 12: --opt=value spellings got past the old deny-list; with the
// key, `--raw=FILE` overwrote any file dfsd (as root) could write.
TEST_F(RemoteAdminTest, Issue12OptionSpellingsCannotReachTheServersFiles) {
  const auto victim = files_.path() / "victim";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"diag", "referral", "\\contoso\\webfarm",
            "--raw=" + victim.string()},
           {"diag", "referral", "\\contoso\\webfarm", "--server=127.0.0.1:1"},
           {"--store=" + files_.path().string(), "root", "list"}}) {
    auto r = Remote(key_, args);
    EXPECT_NE(r.exit_code, 0) << args[args.size() - 1];
    EXPECT_NE(r.err.find("(remote)"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(victim));
}

// Issue 12: key files are held to ssh's rules, and guessing is throttled.
TEST_F(DfsdTest, Issue12WeakOrExposedKeyFilesAreRefused) {
  testing::TempDir files;
  const auto open_key = files.path() / "open";
  std::ofstream(open_key) << "0123456789abcdef0123456789abcdef\n";
  chmod(open_key.c_str(), 0644);
  const std::string spaces =
      WriteKey(files.path() / "spaces", std::string(16, ' ') + "\n");
  const std::string same =
      WriteKey(files.path() / "same", std::string(32, 'a') + "\n");
  for (const auto& [key, why] :
       std::vector<std::pair<std::string, std::string>>{
           {open_key.string(), "chmod 600"},
           {spaces, "shorter than 16"},
           {same, "different characters"},
           {"/dev/zero", "not a regular file"}}) {
    auto r = testing::RunWithin(
        {DFSD_PATH, "--store", store_.path().string(), "--listen",
         "127.0.0.1:0", "--no-probe", "--admin-key", key},
        std::chrono::seconds(20));
    EXPECT_FALSE(r.timed_out) << key;
    EXPECT_EQ(r.exit_code, 2) << key;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
}

TEST_F(RemoteAdminTest, Issue12WrongKeysAreThrottledAndLoggedSparingly) {
  const std::string before = Serial();
  // A guesser: a hand-built client that answers challenges with garbage
  // (dfsutil itself stops when the server's proof does not match its key).
  auto guess = [&]() -> std::string {
    testing::TcpClient raw(port_);
    if (!raw.Send(EncodeFrame(FrameType::kAdminHello,
                              std::string(1, '\x01') + std::string(32, 'n')))) {
      return "";
    }
    auto challenge = ReadAnswer(raw);
    if (!challenge || challenge->type != FrameType::kAdminChallenge) return "";
    if (!raw.Send(EncodeFrame(FrameType::kAdminAuth, std::string(32, 'g')))) {
      return "";
    }
    auto reply = ReadAnswer(raw);
    return reply ? DecodeErrorPayload(reply->payload).message : "";
  };
  int throttled = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string said = guess();
    EXPECT_NE(said.find("key"), std::string::npos) << said;
    throttled += said.find("too many wrong keys") != std::string::npos;
  }
  EXPECT_EQ(throttled, 3);  // five tries a minute, then refused unchecked
  // Even the right key waits out the window from that address.
  auto right = Remote(key_, {"root", "list"});
  EXPECT_NE(right.err.find("too many wrong keys"), std::string::npos);
  EXPECT_EQ(Serial(), before);
  size_t lines = 0;
  for (size_t at = 0;
       (at = dfsd_->Stderr().find("DFS1020", at)) != std::string::npos; ++at) {
    ++lines;
  }
  EXPECT_LE(lines, 2u) << dfsd_->Stderr();
}

// Issue 12: anyone who connected could ask for the namespace snapshot
// (built on the referral thread: 0.5 s at 100k folders) and the change
// log; a fake primary could feed a replica. Replication now needs a
// session in which both sides proved the key.
TEST_F(ReplicaTest, Issue12ReplicationNeedsBothSidesToProveTheKey) {
  // Unauthenticated asks are refused at once, with no work done.
  testing::TcpClient raw(primary_port_);
  for (auto type : {FrameType::kSnapshotRequest, FrameType::kChangesRequest}) {
    ASSERT_TRUE(raw.Send(EncodeFrame(type, EncodeChangesRequest({0, 10}))));
    auto header = raw.Receive(kFrameHeaderBytes);
    ASSERT_TRUE(header);
    EXPECT_EQ((*header)[4], static_cast<char>(FrameType::kError));
    const auto* h = reinterpret_cast<const uint8_t*>(header->data());
    auto payload = raw.Receive((uint32_t{h[2]} << 8) | h[3]);
    ASSERT_TRUE(payload);
    EXPECT_NE(DecodeErrorPayload(*payload).message.find("authenticated"),
              std::string::npos);
  }
  // A replica holding another key learns nothing and serves nothing.
  const std::string other = WriteKey(
      keys_.path() / "other.key", "another-key-abcdefghijklmnopqrstuvwxyz\n");
  const uint16_t replica = StartReplica(other);
  testing::TcpClient client(replica);
  auto a = Ask(client, "\\contoso\\webfarm\\Site1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, FrameType::kError);  // its store is still empty
  const auto start = SteadyClock::now();
  while (replica_->Stderr().find("did not prove it holds the key") ==
             std::string::npos &&
         SteadyClock::now() - start < 10s) {
    std::this_thread::sleep_for(50ms);  // waiting for a log line, bounded
  }
  EXPECT_NE(replica_->Stderr().find("did not prove it holds the key"),
            std::string::npos)
      << replica_->Stderr();
}

// Issue 12: after the handshake every frame carries a MAC; one without is
// the end of the connection, and nothing it asked for runs.
TEST_F(RemoteAdminTest, Issue12AFrameWithoutItsMacEndsTheSession) {
  const std::string before = Serial();
  const std::string key = "0123456789abcdef0123456789abcdef";
  testing::TcpClient raw(port_);
  const std::string client_nonce(32, 'c');
  ASSERT_TRUE(raw.Send(EncodeFrame(FrameType::kAdminHello,
                                   std::string(1, '\x01') + client_nonce)));
  auto challenge = ReadAnswer(raw);
  ASSERT_TRUE(challenge && challenge->type == FrameType::kAdminChallenge);
  const std::string server_nonce = challenge->payload.substr(0, 32);
  EXPECT_EQ(challenge->payload.substr(32),
            referral::ServerProof(key, referral::SessionPurpose::kAdmin,
                                  client_nonce, server_nonce));
  ASSERT_TRUE(raw.Send(
      EncodeFrame(FrameType::kAdminAuth,
                  referral::ClientProof(key, referral::SessionPurpose::kAdmin,
                                        client_nonce, server_nonce))));
  auto accepted = ReadAnswer(raw);
  ASSERT_TRUE(accepted && accepted->type == FrameType::kAdminResult);
  // Authenticated, but this command has no MAC (as if injected).
  ASSERT_TRUE(raw.Send(EncodeFrame(
      FrameType::kAdminCommand,
      EncodeAdminCommand(
          {{"link", "add", "\\\\contoso\\webfarm\\Evil", "\\\\e\\c"}, ""}))));
  EXPECT_TRUE(raw.PeerClosed());
  EXPECT_EQ(Serial(), before);
  EXPECT_NE(dfsd_->Stderr().find("MAC does not match"), std::string::npos)
      << dfsd_->Stderr();
}

// The peer link a replica (and dfsrd next) uses, against a real dfsd.
TEST_F(ReplicaTest, Issue12APeerLinkProvesTheKeyAndExchangesSealedFrames) {
  boost::asio::io_context io;
  auto endpoint = *referral_net::ParseEndpoint("127.0.0.1:" +
                                               std::to_string(primary_port_));
  const std::string key = "replica-key-0123456789abcdef0123456789";
  std::vector<std::string> results;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        referral_net::PeerLink good(io.get_executor(), endpoint, key,
                                    referral::SessionPurpose::kReplication, 5s,
                                    kMaxReplicationFrameBytes);
        Status opened = co_await good.Open();
        results.push_back(opened.ok() ? "open" : opened.error().Message());
        const std::string request = EncodeChangesRequest({0, 10});
        auto reply =
            co_await good.Exchange(FrameType::kChangesRequest, request);
        results.push_back(reply && reply->type == FrameType::kChangesReply
                              ? "changes"
                              : "no changes");
        referral_net::PeerLink wrong(io.get_executor(), endpoint,
                                     "not-the-key-abcdefghijklmnopqrstu",
                                     referral::SessionPurpose::kReplication, 5s,
                                     kMaxReplicationFrameBytes);
        Status refused = co_await wrong.Open();
        results.push_back(!refused.ok() && refused.error().code ==
                                               dfs::make_error_code(
                                                   dfs::Errc::kPermissionDenied)
                              ? "denied"
                              : "not denied");
        testing::FakeContentServer gone;
        const uint16_t gone_port = gone.port();
        gone.Close();
        referral_net::PeerLink nobody(
            io.get_executor(),
            *referral_net::ParseEndpoint("127.0.0.1:" +
                                         std::to_string(gone_port)),
            key, referral::SessionPurpose::kReplication, 5s,
            kMaxReplicationFrameBytes);
        Status absent = co_await nobody.Open();
        results.push_back(!absent.ok() &&
                                  absent.error().code ==
                                      dfs::make_error_code(dfs::Errc::kIo)
                              ? "io"
                              : "not io");
        // A peer that accepts and never answers (hung) costs the timeout.
        testing::FakeContentServer silent;
        referral_net::PeerLink hung(
            io.get_executor(),
            *referral_net::ParseEndpoint("127.0.0.1:" +
                                         std::to_string(silent.port())),
            key, referral::SessionPurpose::kReplication, 300ms,
            kMaxReplicationFrameBytes);
        const auto asked = SteadyClock::now();
        Status hung_open = co_await hung.Open();
        results.push_back(!hung_open.ok() &&
                                  hung_open.error().code ==
                                      dfs::make_error_code(dfs::Errc::kIo) &&
                                  SteadyClock::now() - asked < 5s
                              ? "hung io"
                              : "hung not io");
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(30s);
  EXPECT_EQ(results, (std::vector<std::string>{"open", "changes", "denied",
                                               "io", "hung io"}));
  referral_net::Backoff backoff(100ms, 1000ms);
  EXPECT_EQ(backoff.Next(), 100ms);
  EXPECT_EQ(backoff.Next(), 200ms);
  for (int i = 0; i < 5; ++i) backoff.Next();
  EXPECT_EQ(backoff.Next(), 1000ms);
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), 100ms);
}

TEST(SessionTest, Issue12SealedFramesRefuseTamperingReplayAndReflection) {
  const std::string key =
      referral::SessionKey("k", referral::SessionPurpose::kAdmin, "c", "s");
  referral::FrameSealer client(key, true), server(key, false);
  auto frame_of = [](const std::string& bytes) {
    Framer framer(1 << 20);
    return (*framer.Feed(bytes))[0];
  };
  const Frame first = frame_of(client.Seal(FrameType::kAdminCommand, "one"));
  const Frame second = frame_of(client.Seal(FrameType::kAdminCommand, "two"));
  // Out of order (the second first) fails; in order both open.
  EXPECT_FALSE(server.Open(second));
  EXPECT_EQ(*server.Open(first), "one");
  EXPECT_FALSE(server.Open(first));  // replayed
  Frame changed = second;
  changed.payload[0] ^= 1;
  EXPECT_FALSE(server.Open(changed));
  Frame retyped = second;
  retyped.type = FrameType::kAdminResult;
  EXPECT_FALSE(server.Open(retyped));
  EXPECT_EQ(*server.Open(second), "two");
  // A server frame reflected back at the server fails (direction).
  const Frame reply = frame_of(server.Seal(FrameType::kAdminResult, "r"));
  referral::FrameSealer other_server(key, false);
  EXPECT_FALSE(other_server.Open(reply));
  EXPECT_EQ(*client.Open(reply), "r");
  EXPECT_FALSE(client.Open(Frame{FrameType::kAdminResult, "short"}));
}

TEST_F(DfsdTest, RemoteAdminIsOffWithoutAKey) {
  const uint16_t port = StartDfsd({"--no-probe"});
  testing::TempDir files;
  const std::string key =
      WriteKey(files.path() / "key", "0123456789abcdef0123456789abcdef\n");
  auto r = testing::Run({DFSUTIL_PATH, "--server",
                         "127.0.0.1:" + std::to_string(port), "--key", key,
                         "link", "add", "\\\\contoso\\webfarm\\X", "\\\\w\\c"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("remote administration is off"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace dfs::referral
