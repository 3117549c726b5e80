// Integration: a domain namespace in a real 3-member etcd cluster on
// loopback ports, three real dfsd in domain mode and real dfsutil
// processes. Skipped (with the reason) where etcd is not installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "dfs/common/error.h"
#include "dfs/domain_net/etcd_admin.h"
#include "dfs/ns/admin.h"
#include "testing/daemon.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/referral_client.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

const char* const kEtcd = "/usr/bin/etcd";
const std::string kRoot = "\\\\contoso\\webfarm";

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto a = testing::Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

// One HTTP POST to etcd's gateway; the body of a 200 answer.
std::optional<std::string> EtcdPost(uint16_t port, const std::string& path,
                                    const std::string& body) {
  testing::TcpClient client(port, 2000);
  if (!client.connected()) return std::nullopt;
  if (!client.Send("POST " + path +
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                   "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body)) {
    return std::nullopt;
  }
  std::string answer;
  while (auto chunk = client.Receive(1)) answer += *chunk;
  if (answer.rfind("HTTP/1.1 200", 0) != 0) return std::nullopt;
  const size_t at = answer.find("\r\n\r\n");
  return at == std::string::npos ? std::nullopt
                                 : std::optional(answer.substr(at + 4));
}

class EtcdMember {
 public:
  EtcdMember(std::string name, std::filesystem::path dir, uint16_t client,
             uint16_t peer)
      : name_(std::move(name)),
        dir_(std::move(dir)),
        client_(client),
        peer_(peer) {}
  void Start(const std::string& initial_cluster) {
    const std::string c = "http://127.0.0.1:" + std::to_string(client_);
    const std::string p = "http://127.0.0.1:" + std::to_string(peer_);
    process_ = std::make_unique<testing::Daemon>(
        std::vector<std::string>{kEtcd,
                                 "--name",
                                 name_,
                                 "--data-dir",
                                 dir_.string(),
                                 "--listen-client-urls",
                                 c,
                                 "--advertise-client-urls",
                                 c,
                                 "--listen-peer-urls",
                                 p,
                                 "--initial-advertise-peer-urls",
                                 p,
                                 "--initial-cluster",
                                 initial_cluster,
                                 "--initial-cluster-token",
                                 "dfs-test",
                                 "--initial-cluster-state",
                                 "new",
                                 "--logger",
                                 "zap",
                                 "--log-level",
                                 "error",
                                 "--heartbeat-interval",
                                 "50",
                                 "--election-timeout",
                                 "500"});
  }
  void Kill() { process_.reset(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() const { return process_ != nullptr; }
  uint16_t client_port() const { return client_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(client_);
  }
  std::string peer_url() const {
    return name_ + "=http://127.0.0.1:" + std::to_string(peer_);
  }
  // Whether this member is the leader (by its own status answer).
  bool IsLeader() const {
    auto body = EtcdPost(client_, "/v3/maintenance/status", "{}");
    if (!body) return false;
    auto j = json::parse(*body, nullptr, false);
    return j.is_object() && j.contains("leader") && j.contains("header") &&
           j["leader"] == j["header"]["member_id"];
  }

 private:
  std::string name_;
  std::filesystem::path dir_;
  uint16_t client_, peer_;
  std::unique_ptr<testing::Daemon> process_;
};

class DomainEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kEtcd)) {
      GTEST_SKIP() << "etcd is not installed (apt-get install etcd-server; "
                      "scripts/setup.sh installs it)";
    }
    for (int i = 0; i < 3; ++i) {
      members_.emplace_back("e" + std::to_string(i + 1),
                            work_.path() / ("etcd" + std::to_string(i + 1)),
                            FreePort(), FreePort());
    }
    StartEtcd();
    Dfsutil({"root", "add", kRoot});
    Dfsutil({"link", "add", kRoot + "\\Site1", "\\\\web1\\content\\Site1"});
    for (int i = 0; i < 3; ++i) dfsd_.push_back(StartDfsd(i));
  }

  void StartEtcd() {
    std::string cluster;
    for (auto& m : members_)
      cluster += (cluster.empty() ? "" : ",") + m.peer_url();
    for (auto& m : members_) {
      if (!m.running()) m.Start(cluster);
    }
    // Ready when a linearizable read succeeds (a leader is elected).
    const auto deadline = SteadyClock::now() + 20s;
    while (SteadyClock::now() < deadline) {
      if (EtcdPost(members_[0].client_port(), "/v3/kv/range",
                   R"({"key":"AA=="})")) {
        return;
      }
      std::this_thread::sleep_for(50ms);  // polling etcd's start, bounded
    }
    FAIL() << "etcd did not start within 20 s";
  }

  std::string Endpoints(size_t first = 0) const {
    std::string out;
    for (size_t i = 0; i < members_.size(); ++i) {
      out += (out.empty() ? "" : ",") + members_[(first + i) % 3].url();
    }
    return out;
  }

  testing::ProcessResult DfsutilAt(const std::string& endpoints,
                                   std::vector<std::string> args) {
    args.insert(args.begin(), {DFSUTIL_PATH, "--etcd", endpoints});
    return testing::Run(args);
  }
  void Dfsutil(std::vector<std::string> args) {
    auto r = DfsutilAt(Endpoints(), std::move(args));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  struct Dfsd {
    std::unique_ptr<testing::Daemon> process;
    std::filesystem::path store;
    uint16_t port = 0, metrics_port = 0;
  };
  Dfsd StartDfsd(int i, std::filesystem::path store = {}) {
    Dfsd d;
    d.store =
        store.empty() ? work_.path() / ("dfsd" + std::to_string(i)) : store;
    // Each dfsd is given the members in another order: no member is
    // special to them either.
    d.process = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSD_PATH, "--store", d.store.string(), "--listen", "127.0.0.1:0",
        "--metrics", "127.0.0.1:0", "--no-probe", "--refresh-ms", "50",
        "--etcd-health-ms", "200", "--etcd",
        Endpoints(static_cast<size_t>(i))});
    auto line = d.process->ReadLine(10s);
    EXPECT_TRUE(line) << d.process->Stderr();
    std::smatch m;
    std::regex re("listening on 127\\.0\\.0\\.1:(\\d+) metrics (\\d+)");
    if (line && std::regex_search(*line, m, re)) {
      d.port = static_cast<uint16_t>(std::stoi(m[1]));
      d.metrics_port = static_cast<uint16_t>(std::stoi(m[2]));
    }
    return d;
  }

  // The targets dfsd `d` answers for `folder` (empty: not found or no
  // answer).
  static std::vector<std::string> TargetsAt(const Dfsd& d,
                                            const std::string& folder) {
    testing::TcpClient client(d.port, 1000);
    auto a = testing::Ask(client, "\\contoso\\webfarm\\" + folder);
    if (!a || a->type != referral::FrameType::kReferralResponse) return {};
    return testing::Targets(*a);
  }

  // Waits (bounded) until every dfsd answers `expected` for `folder`; the
  // time it took.
  std::optional<std::chrono::milliseconds> AllAnswer(
      const std::string& folder, const std::vector<std::string>& expected,
      std::chrono::milliseconds bound = 5000ms) {
    const auto start = SteadyClock::now();
    std::vector<bool> seen(dfsd_.size(), false);
    while (SteadyClock::now() - start < bound) {
      bool all = true;
      for (size_t i = 0; i < dfsd_.size(); ++i) {
        if (!seen[i]) seen[i] = TargetsAt(dfsd_[i], folder) == expected;
        all = all && seen[i];
      }
      if (all) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            SteadyClock::now() - start);
      }
    }
    return std::nullopt;
  }

  // Kills dfsd `i` once every dfsd answers, then adds folders
  // <name>0..<name>(n-1) (targets \\web9\c\<folder>); its store.
  std::filesystem::path StopDfsdAndAddFolders(size_t i, const std::string& name,
                                              int n) {
    EXPECT_TRUE(AllAnswer("Site1", {"\\web1\\content\\Site1"}));
    const std::filesystem::path store = dfsd_[i].store;
    dfsd_[i].process.reset();  // killed
    for (int k = 0; k < n; ++k) {
      Dfsutil({"link", "add", kRoot + "\\" + name + std::to_string(k),
               "\\\\web9\\c\\" + name + std::to_string(k)});
    }
    return store;
  }

  static std::string Metrics(const Dfsd& d) {
    testing::TcpClient http(d.metrics_port);
    http.Send("GET /metrics HTTP/1.0\r\n\r\n");
    std::string body;
    while (auto chunk = http.Receive(1)) body += *chunk;
    return body;
  }

  // What `dfsutil show` prints for the root: from etcd, or from a dfsd's
  // store.
  std::string ShowFromEtcd() {
    auto r = DfsutilAt(Endpoints(), {"show", kRoot});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  static std::string ShowFromStore(const Dfsd& d) {
    auto r = testing::Run(
        {DFSUTIL_PATH, "--store", d.store.string(), "show", kRoot});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  testing::TempDir work_;
  std::vector<EtcdMember> members_;
  std::vector<Dfsd> dfsd_;
};

TEST_F(DomainEtcdTest,
       AChangeThroughAnyMemberIsAnsweredByEveryDfsdWithinASecond) {
  ASSERT_TRUE(AllAnswer("Site1", {"\\web1\\content\\Site1"}));
  for (size_t member = 0; member < 3; ++member) {
    const std::string target =
        "\\\\web" + std::to_string(member + 2) + "\\content\\Site1";
    // Through this member only.
    auto r = DfsutilAt(members_[member].url(),
                       {"target", "add", kRoot + "\\Site1", target});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> expected = {"\\web1\\content\\Site1"};
    for (size_t k = 0; k <= member; ++k)
      expected.push_back("\\web" + std::to_string(k + 2) + "\\content\\Site1");
    // Same priority class: dfsd shuffles them; compare as sets.
    const auto start = SteadyClock::now();
    bool all = false;
    while (!all && SteadyClock::now() - start < 5s) {
      all = true;
      for (const auto& d : dfsd_) {
        auto got = TargetsAt(d, "Site1");
        all = all &&
              std::multiset<std::string>(got.begin(), got.end()) ==
                  std::multiset<std::string>(expected.begin(), expected.end());
      }
    }
    const auto took = SteadyClock::now() - start;
    ASSERT_TRUE(all) << "member " << member;
    EXPECT_LT(took, 1s) << "member " << member;
  }
}

TEST_F(DomainEtcdTest,
       TwoAdminsWhileTheLeaderDiesLoseNothingAndApplyNothingTwice) {
  constexpr int kEach = 100;
  std::atomic<int> done_a{0};
  std::mutex mutex;
  std::vector<std::string> problems;
  std::map<std::string, int> conflicts;
  auto admin = [&](char who, size_t first_member, std::atomic<int>* done) {
    for (int i = 0; i < kEach; ++i) {
      const std::string folder = std::string(1, who) + std::to_string(i);
      bool acknowledged = false;
      // An admin told "changed meanwhile" (dfsutil's own retries ran out)
      // runs the command again.
      for (int attempt = 0; attempt < 30 && !acknowledged; ++attempt) {
        auto r =
            DfsutilAt(Endpoints(first_member),
                      {"link", "add", kRoot + "\\" + folder,
                       "\\\\web" + std::string(1, who) + "\\c\\" + folder});
        if (r.exit_code == 0) {
          acknowledged = true;
        } else if (r.err.find("changed meanwhile") != std::string::npos) {
          std::lock_guard lock(mutex);
          ++conflicts[std::string(1, who)];
        } else {
          // "already exists" would mean an earlier attempt reported as
          // failed had been applied.
          std::lock_guard lock(mutex);
          problems.push_back(folder + ": " + r.err);
          break;
        }
      }
      if (!acknowledged) {
        std::lock_guard lock(mutex);
        problems.push_back(folder + " never acknowledged");
      }
      if (done) ++*done;
    }
  };
  std::thread a(admin, 'A', 0, &done_a);
  std::thread b(admin, 'B', 1, nullptr);
  // Kill the leader a third of the way through.
  while (done_a < kEach / 3) std::this_thread::sleep_for(5ms);  // bounded by a
  int killed = -1;
  for (int i = 0; i < 3 && killed < 0; ++i) {
    if (members_[i].IsLeader()) killed = i;
  }
  ASSERT_GE(killed, 0) << "no leader found";
  members_[killed].Kill();
  a.join();
  b.join();
  EXPECT_TRUE(problems.empty()) << problems.front();

  // etcd holds every acknowledged change.
  const std::string in_etcd = ShowFromEtcd();
  for (char who : {'A', 'B'}) {
    for (int i = 0; i < kEach; ++i) {
      EXPECT_NE(
          in_etcd.find("\n  " + std::string(1, who) + std::to_string(i) + "\n"),
          std::string::npos)
          << who << i;
    }
  }
  // Every dfsd ends with exactly what etcd holds...
  ASSERT_TRUE(AllAnswer("B99", {"\\webB\\c\\B99"}));
  ASSERT_TRUE(AllAnswer("A99", {"\\webA\\c\\A99"}));
  for (const auto& d : dfsd_) EXPECT_EQ(ShowFromStore(d), in_etcd);
  // ...and applied each change exactly once: its log names each change id
  // once (a change applied twice would appear twice).
  for (const auto& d : dfsd_) {
    auto r = testing::Run({DFSUTIL_PATH, "--store", d.store.string(), "--json",
                           "log", "--limit", "100000"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, int> seen;
    std::regex change_id("\\[change ([0-9a-f]{32})\\]");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), change_id), end;
         it != end; ++it) {
      ++seen[(*it)[1]];
    }
    EXPECT_GE(seen.size(), static_cast<size_t>(2 * kEach));
    for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  }
  std::cout << "conflicts left to the admins after dfsutil's retries: A "
            << conflicts["A"] << ", B "
            << conflicts["B"] << "; killed leader e" << killed + 1 << "\n";
}

TEST_F(DomainEtcdTest, WithEtcdGoneDfsdAnswersFromItsStoreAndCatchesUpAfter) {
  ASSERT_TRUE(AllAnswer("Site1", {"\\web1\\content\\Site1"}));
  for (auto& m : members_) m.Kill();
  // Still answered, from each dfsd's own store; each says etcd is gone.
  for (const auto& d : dfsd_) {
    EXPECT_EQ(TargetsAt(d, "Site1"),
              std::vector<std::string>{"\\web1\\content\\Site1"});
    const auto deadline = SteadyClock::now() + 5s;
    while (Metrics(d).find("dfs_etcd_connected 0") == std::string::npos &&
           SteadyClock::now() < deadline) {
    }
    EXPECT_NE(Metrics(d).find("dfs_etcd_connected 0"), std::string::npos);
    EXPECT_NE(d.process->Stderr().find("DFS1031"), std::string::npos);
  }
  StartEtcd();
  Dfsutil({"link", "add", kRoot + "\\Site2", "\\\\web2\\content\\Site2"});
  auto took = AllAnswer("Site2", {"\\web2\\content\\Site2"}, 10s);
  ASSERT_TRUE(took) << dfsd_[0].process->Stderr();
  for (const auto& d : dfsd_) {
    EXPECT_NE(Metrics(d).find("dfs_etcd_connected 1"), std::string::npos);
  }
}

TEST_F(DomainEtcdTest, ADfsdDownDuringChangesCatchesUpOnStartWithoutAFullRead) {
  const std::filesystem::path store = StopDfsdAndAddFolders(2, "Late", 10);
  dfsd_[2] = StartDfsd(2, store);
  auto took = AllAnswer("Late9", {"\\web9\\c\\Late9"});
  ASSERT_TRUE(took) << dfsd_[2].process->Stderr();
  EXPECT_EQ(ShowFromStore(dfsd_[2]), ShowFromEtcd());
  // It resumed from the revision its store held: ten changes applied, no
  // whole-namespace read.
  const std::string metrics = Metrics(dfsd_[2]);
  EXPECT_NE(metrics.find("dfs_etcd_full_reads_total 0"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("dfs_etcd_changes_applied_total 10"),
            std::string::npos)
      << metrics;
}

TEST_F(DomainEtcdTest, ADfsdWhoseRevisionWasCompactedAwayReadsEverythingAgain) {
  const std::filesystem::path store = StopDfsdAndAddFolders(2, "Gone", 5);
  Dfsutil({"link", "remove", kRoot + "\\Gone0"});
  // Compact etcd's history up to now: the revision the store holds is gone.
  auto status = EtcdPost(members_[0].client_port(), "/v3/kv/range",
                         R"({"key":"AA==","limit":"1"})");
  ASSERT_TRUE(status);
  const auto now =
      json::parse(*status)["header"]["revision"].get<std::string>();
  ASSERT_TRUE(EtcdPost(members_[0].client_port(), "/v3/kv/compaction",
                       R"({"revision":")" + now + R"(","physical":true})"));
  dfsd_[2] = StartDfsd(2, store);
  ASSERT_TRUE(AllAnswer("Gone4", {"\\web9\\c\\Gone4"}))
      << dfsd_[2].process->Stderr();
  EXPECT_TRUE(TargetsAt(dfsd_[2], "Gone0").empty());  // removed meanwhile
  EXPECT_EQ(ShowFromStore(dfsd_[2]), ShowFromEtcd());
  EXPECT_NE(Metrics(dfsd_[2]).find("dfs_etcd_full_reads_total 1"),
            std::string::npos);
  EXPECT_NE(dfsd_[2].process->Stderr().find("DFS1033"), std::string::npos);
}

// A member that hangs (SIGSTOP: it accepts connections and never answers)
// is worse than one that dies. dfsd 0 watches it and every dfsutil asks
// it first: each costs a request timeout, then goes on with the others.
TEST_F(DomainEtcdTest, AMemberThatHangsCostsATimeoutNotAnOutage) {
  ASSERT_TRUE(AllAnswer("Site1", {"\\web1\\content\\Site1"}));
  ASSERT_TRUE(testing::Freeze(members_[0].pid()));
  const auto frozen = SteadyClock::now();
  Dfsutil({"link", "add", kRoot + "\\Site4", "\\\\web4\\content\\Site4"});
  auto took = AllAnswer("Site4", {"\\web4\\content\\Site4"}, 20s);
  ASSERT_TRUE(took) << dfsd_[0].process->Stderr();
  std::cout << "change through a cluster with a hung member answered by all "
            << "three dfsd "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   SteadyClock::now() - frozen)
                   .count()
            << " ms after the freeze\n";
  // dfsd 0 moved its watch off the hung member.
  EXPECT_NE(dfsd_[0].process->Stderr().find("DFS1034"), std::string::npos)
      << dfsd_[0].process->Stderr();
  kill(members_[0].pid(), SIGCONT);
}

TEST_F(DomainEtcdTest, WithAuthenticationOnOnlyTheUserWithItsPasswordGetsIn) {
  const uint16_t port = members_[0].client_port();
  ASSERT_TRUE(EtcdPost(port, "/v3/auth/role/add", R"({"name":"root"})"));
  ASSERT_TRUE(EtcdPost(port, "/v3/auth/user/add",
                       R"({"name":"root","password":"pass-word-42"})"));
  ASSERT_TRUE(EtcdPost(port, "/v3/auth/user/grant",
                       R"({"user":"root","role":"root"})"));
  ASSERT_TRUE(EtcdPost(port, "/v3/auth/enable", "{}"));
  auto write_secret = [&](const std::string& name, const std::string& text) {
    const auto path = work_.path() / name;
    std::ofstream(path) << text << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
    return path.string();
  };
  const std::string right = write_secret("pw", "pass-word-42");
  const std::string wrong = write_secret("pw-wrong", "guess");
  const std::vector<std::string> change = {"link", "add", kRoot + "\\Site3",
                                           "\\\\web3\\content\\Site3"};
  // The change as the user named (none: anonymous) with that password.
  auto as = [&](const std::string& user, const std::string& password) {
    std::vector<std::string> args;
    if (!user.empty())
      args = {"--etcd-user", user, "--etcd-password-file", password};
    args.insert(args.end(), change.begin(), change.end());
    return DfsutilAt(Endpoints(), args);
  };
  auto anonymous = as("", "");
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_NE(anonymous.err.find("--etcd-user"), std::string::npos)
      << anonymous.err;
  auto guessed = as("root", wrong);
  EXPECT_NE(guessed.exit_code, 0);
  EXPECT_NE(guessed.err.find("authentication failed"), std::string::npos)
      << guessed.err;
  auto r = as("root", right);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // A dfsd given the user follows; the ones started without cannot.
  testing::Daemon with_user(std::vector<std::string>{
      DFSD_PATH, "--store", (work_.path() / "authd").string(), "--listen",
      "127.0.0.1:0", "--no-probe", "--refresh-ms", "50", "--etcd", Endpoints(),
      "--etcd-user", "root", "--etcd-password-file", right});
  auto line = with_user.ReadLine(10s);
  ASSERT_TRUE(line);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(":(\\d+)")));
  Dfsd d;
  d.port = static_cast<uint16_t>(std::stoi(m[1]));
  const auto deadline = SteadyClock::now() + 5s;
  while (TargetsAt(d, "Site3").empty() && SteadyClock::now() < deadline) {
  }
  EXPECT_EQ(TargetsAt(d, "Site3"),
            std::vector<std::string>{"\\web3\\content\\Site3"});
}

// Two admins changing different folders at once both succeed: the one
// whose transaction finds the namespace changed runs its command again
// against it (deterministic here: the command itself has another admin
// make a change, with dfsutil, between its read and its transaction, the
// first time it runs). One that keeps losing is told so after its
// retries, with nothing applied.
TEST_F(DomainEtcdTest, AChangeThatLosesARaceRunsAgainAgainstTheNewNamespace) {
  auto change_with_rival = [&](const std::string& folder, int rivals,
                               int conflict_retries) {
    int runs = 0;
    return domain_net::RunBlocking<Result<domain_net::ChangeOutcome>>(
        [&](boost::asio::any_io_executor executor)
            -> boost::asio::awaitable<Result<domain_net::ChangeOutcome>> {
          domain_net::EtcdOptions options;
          options.endpoints = *domain_net::ParseEndpoints(Endpoints());
          auto client = domain_net::EtcdClient::Create(executor, options);
          if (!client) co_return Unexpected(client.error());
          domain_net::ChangeOptions change;
          change.conflict_retries = conflict_retries;
          co_return co_await domain_net::ChangeDomain(
              **client, change, "link add " + folder,
              [&](ns::NamespaceWriter& w) -> Status {
                if (runs++ < rivals) {
                  // Another admin, between our read and our transaction.
                  auto r = DfsutilAt(Endpoints(1), {"link", "add",
                                                    kRoot + "\\Rival" + folder +
                                                        std::to_string(runs),
                                                    "\\\\rival\\c\\r"});
                  EXPECT_EQ(r.exit_code, 0) << r.err;
                }
                return ns::AddLink(w, kRoot + "\\" + folder,
                                   "\\\\web9\\c\\" + folder);
              });
        });
  };
  // One rival: the second run goes through, both folders are there.
  auto won = change_with_rival("Raced", 1, 8);
  ASSERT_TRUE(won.has_value()) << won.error().Message();
  EXPECT_TRUE(won->changed);
  EXPECT_EQ(won->attempts, 2);
  ASSERT_TRUE(AllAnswer("Raced", {"\\web9\\c\\Raced"}));
  ASSERT_TRUE(AllAnswer("RivalRaced1", {"\\rival\\c\\r"}));
  // A rival every time, two retries allowed: three runs, then the
  // conflict, and nothing of it applied.
  auto lost = change_with_rival("Unlucky", 100, 2);
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, make_error_code(Errc::kConflict));
  EXPECT_NE(lost.error().Message().find("3 tries"), std::string::npos)
      << lost.error().Message();
  ASSERT_TRUE(AllAnswer("RivalUnlucky3", {"\\rival\\c\\r"}));
  EXPECT_TRUE(TargetsAt(dfsd_[0], "Unlucky").empty());
}

// ---------------------------------------------------------------- TLS

// A CA, a certificate for an etcd member at 127.0.0.1 and client
// certificates, made with Debian's openssl for this test.
class TestPki {
 public:
  explicit TestPki(const std::filesystem::path& dir) : dir_(dir) {}
  // A self-signed CA named `name` (name.pem, name.key).
  bool Ca(const std::string& name) {
    return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", Key(name),
                    "-out", Pem(name), "-days", "2", "-subj", "/CN=" + name});
  }
  // A certificate `name` signed by CA `ca`, with these X.509 extensions.
  bool Issue(const std::string& name, const std::string& ca,
             const std::string& extensions) {
    const auto ext = dir_ / (name + ".ext");
    std::ofstream(ext) << extensions << "\n";
    return Openssl({"req", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", Key(name),
                    "-out", (dir_ / (name + ".csr")).string(), "-subj",
                    "/CN=" + name}) &&
           Openssl({"x509", "-req", "-in", (dir_ / (name + ".csr")).string(),
                    "-CA", Pem(ca), "-CAkey", Key(ca), "-CAcreateserial",
                    "-out", Pem(name), "-days", "2", "-extfile", ext.string()});
  }
  std::string Pem(const std::string& name) const {
    return (dir_ / (name + ".pem")).string();
  }
  std::string Key(const std::string& name) const {
    return (dir_ / (name + ".key")).string();
  }

 private:
  bool Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto r = testing::Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0;
  }
  std::filesystem::path dir_;
};

// etcd serving clients over TLS only, with client certificates required
// (--client-cert-auth): dfsutil and dfsd reach it over https:// with the
// CA and a client certificate; a wrong CA, no client certificate, plain
// http:// or a key others can read get a clear refusal and change nothing.
TEST(DomainEtcdTlsTest, OverHttpsOnlyTheRightCaAndClientCertificateGetIn) {
  if (!std::filesystem::exists(kEtcd) ||
      !std::filesystem::exists("/usr/bin/openssl")) {
    GTEST_SKIP() << "etcd or openssl is not installed (scripts/setup.sh "
                    "installs etcd-server)";
  }
  testing::TempDir work;
  TestPki pki(work.path());
  ASSERT_TRUE(pki.Ca("ca"));
  ASSERT_TRUE(pki.Ca("other-ca"));
  // etcd's own gateway dials the member with the member's certificate:
  // it is a client certificate too.
  ASSERT_TRUE(pki.Issue("member", "ca",
                        "subjectAltName=IP:127.0.0.1\n"
                        "extendedKeyUsage=serverAuth,clientAuth"));
  ASSERT_TRUE(pki.Issue("admin", "ca", "extendedKeyUsage=clientAuth"));
  ASSERT_TRUE(pki.Issue("stranger", "other-ca", "extendedKeyUsage=clientAuth"));
  for (const char* key : {"member", "admin", "stranger"}) {
    std::filesystem::permissions(pki.Key(key),
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
  }
  const uint16_t client = FreePort(), peer = FreePort();
  const std::string url = "https://127.0.0.1:" + std::to_string(client);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
  testing::Daemon etcd(std::vector<std::string>{kEtcd,
                                                "--name",
                                                "e1",
                                                "--data-dir",
                                                (work.path() / "etcd").string(),
                                                "--listen-client-urls",
                                                url,
                                                "--advertise-client-urls",
                                                url,
                                                "--listen-peer-urls",
                                                peer_url,
                                                "--initial-advertise-peer-urls",
                                                peer_url,
                                                "--initial-cluster",
                                                "e1=" + peer_url,
                                                "--cert-file",
                                                pki.Pem("member"),
                                                "--key-file",
                                                pki.Key("member"),
                                                "--trusted-ca-file",
                                                pki.Pem("ca"),
                                                "--client-cert-auth",
                                                "--logger",
                                                "zap",
                                                "--log-level",
                                                "error"});
  const std::vector<std::string> tls = {"--etcd-ca-file",   pki.Pem("ca"),
                                        "--etcd-cert-file", pki.Pem("admin"),
                                        "--etcd-key-file",  pki.Key("admin")};
  auto dfsutil = [&](std::vector<std::string> options,
                     std::vector<std::string> command) {
    std::vector<std::string> argv = {DFSUTIL_PATH, "--etcd"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), command.begin(), command.end());
    return testing::Run(argv);
  };
  std::vector<std::string> with_tls = {url};
  with_tls.insert(with_tls.end(), tls.begin(), tls.end());
  // The first change once etcd answers (bounded; before it listens
  // nothing is sent, so a retry cannot apply twice).
  testing::ProcessResult added;
  const auto deadline = SteadyClock::now() + 20s;
  do {
    added = dfsutil(with_tls, {"root", "add", kRoot});
    if (added.exit_code == 0) break;
    std::this_thread::sleep_for(100ms);  // polling etcd's start, bounded
  } while (SteadyClock::now() < deadline);
  ASSERT_EQ(added.exit_code, 0) << added.err << etcd.Stderr();
  auto linked = dfsutil(
      with_tls, {"link", "add", kRoot + "\\Site1", "\\\\web1\\content\\Site1"});
  ASSERT_EQ(linked.exit_code, 0) << linked.err;

  // Refusals, each saying why; none changes anything.
  const std::vector<std::string> change = {"link", "add", kRoot + "\\Evil",
                                           "\\\\evil\\share"};
  auto wrong_ca =
      dfsutil({url, "--etcd-ca-file", pki.Pem("other-ca"), "--etcd-cert-file",
               pki.Pem("admin"), "--etcd-key-file", pki.Key("admin")},
              change);
  EXPECT_NE(wrong_ca.exit_code, 0);
  EXPECT_NE(wrong_ca.err.find("certificate verify failed"), std::string::npos)
      << wrong_ca.err;
  auto no_client_cert = dfsutil({url, "--etcd-ca-file", pki.Pem("ca")}, change);
  EXPECT_NE(no_client_cert.exit_code, 0) << no_client_cert.out;
  // etcd's alert ("bad certificate"), or its reset when that races.
  EXPECT_NE(no_client_cert.err.find("etcd at 127.0.0.1"), std::string::npos)
      << no_client_cert.err;
  auto stranger =
      dfsutil({url, "--etcd-ca-file", pki.Pem("ca"), "--etcd-cert-file",
               pki.Pem("stranger"), "--etcd-key-file", pki.Key("stranger")},
              change);
  EXPECT_NE(stranger.exit_code, 0) << stranger.out;
  // etcd's alert ("bad certificate"), or its reset when that races.
  EXPECT_NE(stranger.err.find("etcd at 127.0.0.1"), std::string::npos)
      << stranger.err;
  auto plain = dfsutil({"http://127.0.0.1:" + std::to_string(client)}, change);
  EXPECT_NE(plain.exit_code, 0) << plain.out;
  std::filesystem::permissions(pki.Key("admin"),
                               std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto readable_key = dfsutil(with_tls, change);
  EXPECT_NE(readable_key.exit_code, 0);
  EXPECT_NE(readable_key.err.find("chmod 600"), std::string::npos)
      << readable_key.err;
  std::filesystem::permissions(pki.Key("admin"),
                               std::filesystem::perms::group_read,
                               std::filesystem::perm_options::remove);
  auto shown = dfsutil(with_tls, {"--json", "show", kRoot});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out.find("Evil"), std::string::npos) << shown.out;

  // dfsd mirrors the namespace over TLS and answers referrals from it.
  std::vector<std::string> dfsd_argv = {DFSD_PATH,
                                        "--store",
                                        (work.path() / "dfsd").string(),
                                        "--listen",
                                        "127.0.0.1:0",
                                        "--no-probe",
                                        "--refresh-ms",
                                        "50",
                                        "--etcd",
                                        url};
  dfsd_argv.insert(dfsd_argv.end(), tls.begin(), tls.end());
  testing::Daemon dfsd(dfsd_argv);
  auto line = dfsd.ReadLine(10s);
  ASSERT_TRUE(line) << dfsd.Stderr();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*line, m, std::regex(":(\\d+)")));
  const uint16_t port = static_cast<uint16_t>(std::stoi(m[1]));
  // The targets dfsd answers for `folder`, once it has any (bounded).
  auto targets_of = [&](const std::string& folder,
                        SteadyClock::duration limit) {
    std::vector<std::string> targets;
    const auto deadline = SteadyClock::now() + limit;
    while (targets.empty() && SteadyClock::now() < deadline) {
      testing::TcpClient c(port, 1000);
      auto a = testing::Ask(c, "\\contoso\\webfarm\\" + folder);
      if (a && a->type == referral::FrameType::kReferralResponse)
        targets = testing::Targets(*a);
    }
    return targets;
  };
  EXPECT_EQ(targets_of("Site1", 10s),
            std::vector<std::string>{"\\web1\\content\\Site1"})
      << dfsd.Stderr();
  // A change made now reaches it through the TLS watch.
  ASSERT_EQ(dfsutil(with_tls, {"link", "add", kRoot + "\\Site2",
                               "\\\\web2\\content\\Site2"})
                .exit_code,
            0);
  EXPECT_EQ(targets_of("Site2", 5s),
            std::vector<std::string>{"\\web2\\content\\Site2"})
      << dfsd.Stderr();

  // A dfsd trusting another CA gets nothing from etcd and says why (it
  // keeps answering from its store and trying, as when etcd is down).
  testing::Daemon distrustful(std::vector<std::string>{
      DFSD_PATH, "--store", (work.path() / "dfsd2").string(), "--listen",
      "127.0.0.1:0", "--no-probe", "--etcd-health-ms", "200", "--etcd", url,
      "--etcd-ca-file", pki.Pem("other-ca"), "--etcd-cert-file",
      pki.Pem("admin"), "--etcd-key-file", pki.Key("admin")});
  ASSERT_TRUE(distrustful.ReadLine(10s)) << distrustful.Stderr();
  const auto logged = SteadyClock::now() + 10s;
  while (distrustful.Stderr().find("certificate verify failed") ==
             std::string::npos &&
         SteadyClock::now() < logged) {
    std::this_thread::sleep_for(50ms);  // polling its log, bounded
  }
  EXPECT_NE(distrustful.Stderr().find("certificate verify failed"),
            std::string::npos)
      << distrustful.Stderr();
}

}  // namespace
}  // namespace dfs
