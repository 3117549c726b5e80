// Integration: dfsd's status page in headless Chromium from Debian. A
// running dfsd with a sample namespace; the page's DOM (after its scripts
// ran: --virtual-time-budget) shows the folders and targets in referral
// order with their probe health; on a page left open (read over the
// DevTools Protocol, never reloaded) a target whose server is killed turns
// unhealthy within the probe interval plus the page's refresh. With two
// real dfsrd members (--dfsrd), the same open page shows the replicated
// folder, a member that hangs, the backlog waiting for it and its age,
// the backlog draining when it answers again, and the bytes a delta
// saved; a screenshot of it is written (DFS_SCREENSHOT_OUT=FILE keeps it,
// for the README). The JSON endpoints are checked over plain HTTP.
// Chromium's part is skipped, with the reason, where it is not installed.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "testing/daemon.h"
#include "testing/devtools.h"
#include "testing/freeze.h"
#include "testing/loopback.h"
#include "testing/random_bytes.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using nlohmann::json;

const char* const kChromium = "/usr/bin/chromium";
constexpr auto kProbeInterval = 300ms;
constexpr auto kRefresh = 500ms;

std::string HttpGet(uint16_t port, const std::string& path) {
  testing::TcpClient http(port);
  http.Send("GET " + path + " HTTP/1.0\r\n\r\n");
  std::string answer;
  while (auto chunk = http.Receive(1)) answer += *chunk;
  return answer;
}

std::string Body(const std::string& answer) {
  const size_t at = answer.find("\r\n\r\n");
  return at == std::string::npos ? "" : answer.substr(at + 4);
}

class StatusPageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"root", "add", "\\\\contoso\\webfarm"},
             {"link", "add", "\\\\contoso\\webfarm\\Site1",
              "\\\\web1\\content\\Site1", "--priority", "first"},
             {"target", "add", "\\\\contoso\\webfarm\\Site1",
              "\\\\web2\\content\\Site1", "--priority", "last"},
             {"link", "add", "\\\\contoso\\webfarm\\Shops\\Shop7",
              "\\\\web2\\content\\Shop7"},
         }) {
      args.insert(args.begin(),
                  {DFSUTIL_PATH, "--store", store_.path().string()});
      auto r = testing::Run(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    web1_ = std::make_unique<testing::FakeContentServer>();
    testing::FakeContentServer closed;
    const uint16_t web2_port = closed.port();  // nothing listens there
    closed.Close();
    std::vector<std::string> dfsd_args{
        DFSD_PATH,
        "--store",
        store_.path().string(),
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--dfsrd-poll-ms",
        "300",
        "--probe",
        "web1=127.0.0.1:" + std::to_string(web1_->port()),
        "--probe",
        "web2=127.0.0.1:" + std::to_string(web2_port),
        "--probe-interval-ms",
        std::to_string(kProbeInterval.count()),
        "--probe-timeout-ms",
        "200"};
    for (const std::string& member : dfsrd_status_addresses_) {
      dfsd_args.insert(dfsd_args.end(), {"--dfsrd", "http://" + member});
    }
    dfsd_ = std::make_unique<testing::Daemon>(dfsd_args);
    auto line = dfsd_->ReadLine(10s);
    ASSERT_TRUE(line) << dfsd_->Stderr();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*line, m, std::regex("metrics (\\d+)")));
    metrics_port_ = static_cast<uint16_t>(std::stoi(m[1]));
    // Both probes have answered once the API says so.
    const auto deadline = SteadyClock::now() + 5s;
    while (
        SteadyClock::now() < deadline &&
        json::parse(Body(HttpGet(metrics_port_, "/api/health")), nullptr, false)
                .value("servers", json::array())
                .size() < 2) {
    }
  }

  // Headless Chromium on the page with a profile of its own, its scripts
  // run for three refreshes, then `what` (--dump-dom, --screenshot=...).
  testing::ProcessResult Chromium(const std::string& profile,
                                  std::vector<std::string> what) {
    std::vector<std::string> argv = {
        kChromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir=" + (profile_.path() / profile).string(),
        "--virtual-time-budget=" + std::to_string(3 * kRefresh.count())};
    argv.insert(argv.end(), what.begin(), what.end());
    argv.push_back(PageUrl());
    return testing::RunWithin(argv, 60s);
  }
  // The page's DOM once its scripts ran for a while.
  std::string Dom() { return Chromium("dom", {"--dump-dom"}).out; }
  std::string PageUrl() const {
    return "http://127.0.0.1:" + std::to_string(metrics_port_) +
           "/?refresh=" + std::to_string(kRefresh.count());
  }
  // The health the page shows for target `unc` (as in the DOM).
  static std::string HealthIn(const std::string& dom, const std::string& unc) {
    const size_t at = dom.find("data-unc=\"" + unc + "\"");
    if (at == std::string::npos) return "absent";
    std::smatch m;
    const std::string rest = dom.substr(at, 200);
    if (!std::regex_search(rest, m, std::regex("data-health=\"([a-z]+)\"")))
      return "?";
    return m[1];
  }

  // The page left open in Chromium (nothing, and the reason, without it).
  std::unique_ptr<testing::DevToolsPage> OpenPage(
      const std::string& profile, const std::string& window = "1100,860") {
    std::string why;
    auto page = testing::DevToolsPage::Open(
        kChromium, PageUrl(), profile_.path() / profile, why, 30s, window);
    EXPECT_TRUE(page) << why;
    return page;
  }
  // Evaluates `expression` on the open page every 50 ms until `done`
  // holds for its value or `limit` passes; the last value.
  static json WaitOnPage(testing::DevToolsPage& page,
                         const std::string& expression,
                         const std::function<bool(const json&)>& done,
                         std::chrono::milliseconds limit) {
    const auto deadline = SteadyClock::now() + limit;
    json value = page.Evaluate(expression);
    while (!done(value) && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      value = page.Evaluate(expression);
    }
    return value;
  }

  testing::TempDir store_, profile_;
  std::vector<std::string> dfsrd_status_addresses_;  // --dfsrd, if any
  std::unique_ptr<testing::FakeContentServer> web1_;
  std::unique_ptr<testing::Daemon> dfsd_;
  uint16_t metrics_port_ = 0;
};

TEST_F(StatusPageTest, TheApiShowsTheNamespaceInReferralOrderWithHealth) {
  const json ns = json::parse(Body(HttpGet(metrics_port_, "/api/namespace")));
  ASSERT_EQ(ns["roots"].size(), 1u);
  const json& folders = ns["roots"][0]["folders"];
  ASSERT_EQ(folders.size(), 2u);
  const json& site1 = folders[1];
  EXPECT_EQ(site1["name"], "Site1");
  ASSERT_EQ(site1["targets"].size(), 2u);
  EXPECT_EQ(site1["targets"][0]["unc"], "\\\\web1\\content\\Site1");
  EXPECT_EQ(site1["targets"][0]["priority"], "globalHigh");
  EXPECT_EQ(site1["targets"][0]["health"], "up");
  EXPECT_EQ(site1["targets"][1]["health"], "down");
  const std::string page = HttpGet(metrics_port_, "/");
  EXPECT_NE(page.find("200 OK"), std::string::npos);
  EXPECT_NE(page.find("text/html"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos)
      << "the page must load nothing from elsewhere";
  EXPECT_EQ(page.find("https://"), std::string::npos);
  // /metrics is still there.
  EXPECT_NE(HttpGet(metrics_port_, "/metrics").find("dfs_referrals_total"),
            std::string::npos);
}

TEST_F(StatusPageTest, InChromiumTheTreeRendersAndAKilledServerTurnsRed) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs "
                    "Debian's chromium)";
  }
  // A fresh load: the DOM once the page's scripts ran.
  const std::string dom = Dom();
  ASSERT_NE(dom.find("data-path=\"\\\\contoso\\webfarm\\Site1\""),
            std::string::npos)
      << dom.substr(0, 3000);
  EXPECT_NE(dom.find("Shops\\Shop7"), std::string::npos);
  EXPECT_EQ(HealthIn(dom, "\\\\web1\\content\\Site1"), "up");
  EXPECT_EQ(HealthIn(dom, "\\\\web2\\content\\Site1"), "down");
  // web1 listed before web2: referral order.
  EXPECT_LT(dom.find("data-unc=\"\\\\web1\\content\\Site1\""),
            dom.find("data-unc=\"\\\\web2\\content\\Site1\""));
  // No replication configured: no replication section.
  EXPECT_NE(dom.find("id=\"replication\" hidden"), std::string::npos);

  // The page left open: it refreshes itself.
  auto page = OpenPage("live");
  ASSERT_TRUE(page);
  const std::string web1_health =
      R"JS([...document.querySelectorAll('[data-unc]')]
             .find(e => e.dataset.unc === '\\\\web1\\content\\Site1')
             ?.dataset.health ?? null)JS";
  ASSERT_EQ(
      WaitOnPage(
          *page, web1_health, [](const json& v) { return v == "up"; }, 20s),
      "up");
  // Marks this load of the page: a reload would drop it.
  page->Evaluate("window.loadMark = 'still the same load'");

  // web1's server goes away: the probe sees it within its interval (plus
  // its timeout), the open page at its next refresh.
  web1_.reset();
  const auto killed = SteadyClock::now();
  const json health = WaitOnPage(
      *page, web1_health, [](const json& v) { return v == "down"; }, 10s);
  const auto took = SteadyClock::now() - killed;
  EXPECT_EQ(health, "down");
  // Probe interval + probe timeout + refresh, and a second for a busy
  // machine (CI runs tests side by side).
  EXPECT_LT(took, kProbeInterval + 200ms + kRefresh + 1s)
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms";
  EXPECT_EQ(page->Evaluate("window.loadMark"), "still the same load");

  // Typing in the filter box narrows the folders shown (a large namespace
  // is fetched and drawn a page at a time).
  page->Evaluate(
      "const f = document.getElementById('filter'); f.value = 'shop';"
      "f.dispatchEvent(new Event('input'))");
  const json shown = WaitOnPage(
      *page,
      "[...document.querySelectorAll('tr.folder')].map(r => "
      "r.dataset.path).join('|') + ' / ' + "
      "document.getElementById('shown').textContent",
      [](const json& v) {
        return v.is_string() &&
               v.get<std::string>().find("of 1 matching") != std::string::npos;
      },
      5s);
  EXPECT_EQ(shown,
            "\\\\contoso\\webfarm\\Shops\\Shop7 / folders 1–1 of 1 "
            "matching (2 in all)");
}

// ---------------------------------------------------------------- dfsrd

// A port nothing listens on, never one this process handed out before
// (the kernel may give a just-released port again).
uint16_t FreePort() {
  static std::set<uint16_t> handed_out;
  for (;;) {
    testing::FakeContentServer listener;
    if (handed_out.insert(listener.port()).second) return listener.port();
  }
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

using testing::RandomBytes;

// Two dfsrd members (web1, web2) of group "site1" with their metrics (and
// /status) on loopback, and dfsd polling both (--dfsrd).
class ReplicationStatusPageTest : public StatusPageTest {
 protected:
  void SetUp() override {
    const fs::path key = group_.path() / "group.key";
    WriteFile(key, "0123456789abcdef0123456789abcdef-group-key");
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
    const std::vector<uint16_t> ports = {FreePort(), FreePort()};
    for (size_t i = 0; i < 2; ++i) {
      status_.push_back("127.0.0.1:" + std::to_string(FreePort()));
      fs::create_directories(Folder(i));
    }
    WriteFile(Folder(0) / "index.html", "<h1>Site1</h1>");
    WriteFile(Folder(0) / "app.bin", RandomBytes(2 << 20, 11));
    for (size_t i = 0; i < 2; ++i) {
      json members = json::array();
      for (size_t m = 0; m < 2; ++m) {
        members.push_back({{"name", Name(m)},
                           {"address", "127.0.0.1:" + std::to_string(ports[m])},
                           {"folder", Folder(m).string()}});
      }
      const json config = {{"group", "site1"},
                           {"member", Name(i)},
                           {"key_file", key.string()},
                           {"state_dir", (group_.path() / Name(i) / "state")},
                           {"members", members},
                           {"metrics", status_[i]},
                           {"scan_interval_ms", 100},
                           {"poll_interval_ms", 50},
                           {"settle_ms", 30},
                           {"peer_timeout_ms", 2000}};
      const fs::path config_path = group_.path() / (Name(i) + ".json");
      WriteFile(config_path, config.dump());
      members_.push_back(std::make_unique<testing::Daemon>(
          std::vector<std::string>{DFSRD_PATH, "--config", config_path}));
      auto line = members_.back()->ReadLine(10s);
      ASSERT_TRUE(line && line->find("listening") != std::string::npos)
          << members_.back()->Stderr();
    }
    dfsrd_status_addresses_ = status_;
    // And one address where no member answers: shown as such.
    dfsrd_status_addresses_.push_back("127.0.0.1:" +
                                      std::to_string(FreePort()));
    StatusPageTest::SetUp();
  }

  static std::string Name(size_t i) { return "web" + std::to_string(i + 1); }
  fs::path Folder(size_t i) const {
    return group_.path() / Name(i) / "content";
  }
  // The open page's row for `member`'s link to `peer`, as its data-*
  // attributes (null: no such row).
  static std::string LinkRow(const std::string& member,
                             const std::string& peer) {
    return "(() => { const r = document.querySelector('tr.link[data-member=\"" +
           member + "\"][data-peer=\"" + peer +
           "\"]'); return r ? Object.assign({}, r.dataset) : null; })()";
  }

  testing::TempDir group_;
  std::vector<std::string> status_;  // each member's metrics address
  std::vector<std::unique_ptr<testing::Daemon>> members_;
};

// A listener on 127.0.0.1 that answers every connection with `answer`
// (after reading its request head), on a thread of its own.
class CannedHttpServer {
 public:
  explicit CannedHttpServer(std::string answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto a = testing::Loopback(0);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 16);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedHttpServer() {
    stopping_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  void Serve() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string head;
      char buf[1024];
      while (head.find("\r\n\r\n") == std::string::npos) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 1000) <= 0) break;
        const ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      size_t sent = 0;
      while (sent < answer_.size()) {
        const ssize_t n =
            send(c, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::string answer_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Members that are not what they should be: one accepts and never answers
// (a hung process), one answers with more than the limit, one with a
// status that lies about its types. Each shows as unreachable with the
// reason; the page's other endpoints answer meanwhile.
class HostileMembersTest : public StatusPageTest {
 protected:
  void SetUp() override {
    const std::string huge =
        "HTTP/1.1 200 OK\r\n\r\n" + std::string(2 << 20, ' ') + "{}";
    const std::string lying =
        "HTTP/1.1 200 OK\r\n\r\n{\"group\":\"site1\",\"member\":\"web9\","
        "\"peers\":[{\"name\":\"web1\",\"backlog_out\":\"lots\"}]}";
    huge_ = std::make_unique<CannedHttpServer>(huge);
    lying_ = std::make_unique<CannedHttpServer>(lying);
    for (uint16_t port : {hung_.port(), huge_->port(), lying_->port()}) {
      dfsrd_status_addresses_.push_back("127.0.0.1:" + std::to_string(port));
    }
    StatusPageTest::SetUp();
  }
  testing::FakeContentServer hung_;  // accepts nothing, answers nothing
  std::unique_ptr<CannedHttpServer> huge_, lying_;
};

TEST_F(HostileMembersTest, EachShowsUnreachableWithTheReason) {
  std::map<std::string, std::string> errors;  // address -> error
  const auto deadline = SteadyClock::now() + 10s;
  auto all_refused = [&] {
    const json r = json::parse(Body(HttpGet(metrics_port_, "/api/replication")),
                               nullptr, false);
    errors.clear();
    for (const auto& g : r.value("groups", json::array())) {
      for (const auto& m : g["members"]) {
        if (m["reachable"] == false && m["error"] != "not asked yet") {
          errors[m["address"]] = m["error"];
        }
      }
    }
    return errors.size() == 3;
  };
  while (!all_refused() && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(all_refused()) << ::testing::PrintToString(errors);
  auto error_of = [&](uint16_t port) {
    return errors["127.0.0.1:" + std::to_string(port)];
  };
  EXPECT_NE(error_of(hung_.port()).find("no answer within"), std::string::npos)
      << error_of(hung_.port());
  EXPECT_NE(error_of(huge_->port()).find("larger than"), std::string::npos)
      << error_of(huge_->port());
  EXPECT_NE(error_of(lying_->port()).find("'backlog_out' is not a count"),
            std::string::npos)
      << error_of(lying_->port());
  // The rest of the page is answered as ever.
  const json ns = json::parse(Body(HttpGet(metrics_port_, "/api/namespace")),
                              nullptr, false);
  ASSERT_FALSE(ns.is_discarded());
  EXPECT_EQ(ns["roots"].size(), 1u);
}

TEST_F(ReplicationStatusPageTest, TheApiShowsBothMembersAndTheirLinks) {
  json replication;
  const auto deadline = SteadyClock::now() + 20s;
  auto both_linked = [&] {
    replication = json::parse(Body(HttpGet(metrics_port_, "/api/replication")),
                              nullptr, false);
    if (replication.is_discarded()) return false;
    size_t linked = 0;
    for (const auto& g : replication.value("groups", json::array())) {
      if (g["group"] != "site1") continue;
      for (const auto& m : g["members"]) {
        for (const auto& p : m.value("peers", json::array())) {
          linked += p["connected"] == true && p["backlog_out"] == 0 &&
                    p["backlog_in"] == 0;
        }
      }
    }
    return linked == 2;
  };
  while (!both_linked() && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(both_linked()) << replication.dump(2);
  EXPECT_EQ(replication["configured"], 3);
  // The address where nobody answers is listed, with the reason.
  bool listed_unreachable = false;
  for (const auto& g : replication["groups"]) {
    if (!g["group"].is_null()) continue;
    for (const auto& m : g["members"]) {
      listed_unreachable =
          m["reachable"] == false && !m["error"].get<std::string>().empty();
    }
  }
  EXPECT_TRUE(listed_unreachable) << replication.dump(2);

  // web2 is killed (kill -9): it stays listed as web2 of site1 with its
  // last figures, unreachable with the reason, its links no longer shown
  // as connected.
  members_[1]->Kill(SIGKILL);
  json web2;
  auto web2_gone = [&] {
    const json r = json::parse(Body(HttpGet(metrics_port_, "/api/replication")),
                               nullptr, false);
    for (const auto& g : r.value("groups", json::array())) {
      for (const auto& m : g["members"]) {
        if (g["group"] == "site1" && m["member"] == "web2") web2 = m;
      }
    }
    return web2.is_object() && web2["reachable"] == false;
  };
  const auto killed_deadline = SteadyClock::now() + 10s;
  while (!web2_gone() && SteadyClock::now() < killed_deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(web2_gone()) << web2.dump(2);
  EXPECT_NE(web2["error"].get<std::string>().find("refused"), std::string::npos)
      << web2.dump(2);
  EXPECT_TRUE(web2["read_ms_ago"].is_number());
  for (const auto& p : web2["peers"]) EXPECT_EQ(p["connected"], false);
}

TEST_F(ReplicationStatusPageTest,
       InChromiumAHungMemberAndItsBacklogShowAndDrainWithoutAReload) {
  if (!fs::exists(kChromium)) {
    GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs "
                    "Debian's chromium)";
  }
  auto page = OpenPage("replication", "1100,780");
  ASSERT_TRUE(page);
  auto link_is = [](const std::string& state, const std::string& backlog_out) {
    return [=](const json& v) {
      return v.is_object() && v.value("state", "") == state &&
             v.value("backlogOut", "") == backlog_out;
    };
  };
  // Both members linked, nothing waiting either way.
  json web1_to_web2 = WaitOnPage(*page, LinkRow("web1", "web2"),
                                 link_is("connected", "0"), 30s);
  ASSERT_TRUE(link_is("connected", "0")(web1_to_web2)) << web1_to_web2.dump();
  ASSERT_TRUE(link_is("connected", "0")(WaitOnPage(
      *page, LinkRow("web2", "web1"), link_is("connected", "0"), 10s)));
  page->Evaluate("window.loadMark = 'still the same load'");

  // web2 hangs (SIGSTOP); two edits on web1 wait for it.
  ASSERT_TRUE(testing::Freeze(members_[1]->pid()));
  WriteFile(Folder(0) / "index.html", "<h1>Site1, edited</h1>");
  WriteFile(Folder(0) / "new.html", "new page");
  web1_to_web2 = WaitOnPage(
      *page, LinkRow("web1", "web2"),
      [](const json& v) {
        return v.is_object() && v.value("state", "") == "disconnected" &&
               v.value("backlogOut", "") == "2" &&
               !v.value("oldestOutMs", "").empty();
      },
      20s);
  json web2_row = page->Evaluate(LinkRow("web2", "web1"));
  const std::string web2_dom =
      page->Evaluate("document.getElementById('replication').outerHTML")
          .get<std::string>();
  // The screenshot for the README: a member hung, its backlog waiting.
  const fs::path shot = profile_.path() / "status-page.png";
  const bool shot_taken = page->Screenshot(shot);
  kill(members_[1]->pid(), SIGCONT);
  ASSERT_EQ(web1_to_web2.value("state", ""), "disconnected")
      << web1_to_web2.dump();
  EXPECT_EQ(web1_to_web2.value("backlogOut", ""), "2");
  EXPECT_FALSE(web1_to_web2.value("oldestOutMs", "").empty());
  // web2's own answers stopped: its rows are marked as unreachable.
  EXPECT_EQ(web2_row.value("state", ""), "unreachable") << web2_dom;
  ASSERT_TRUE(shot_taken);
  EXPECT_GT(fs::file_size(shot), 1000u);
  if (const char* keep = std::getenv("DFS_SCREENSHOT_OUT")) {
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
  }

  // web2 answers again: the backlog drains on the same page.
  web1_to_web2 = WaitOnPage(*page, LinkRow("web1", "web2"),
                            link_is("connected", "0"), 20s);
  EXPECT_TRUE(link_is("connected", "0")(web1_to_web2)) << web1_to_web2.dump();

  // A one-line edit in the middle of a 2 MiB file reaches web2 by delta:
  // its row shows more than a MiB saved.
  std::string edited = RandomBytes(2 << 20, 11);
  edited.replace(1 << 20, 5, "EDIT!");
  WriteFile(Folder(0) / "app.bin", edited);
  const json saved = WaitOnPage(
      *page,
      "document.querySelector('tr[data-member=\"web2\"] "
      "[data-bytes-saved]')?.dataset.bytesSaved ?? null",
      [](const json& v) {
        return v.is_string() && !v.get<std::string>().empty() &&
               std::stoull(v.get<std::string>()) > (1u << 20);
      },
      20s);
  EXPECT_TRUE(saved.is_string() &&
              std::stoull(saved.get<std::string>()) > (1u << 20))
      << saved.dump();
  EXPECT_EQ(page->Evaluate("window.loadMark"), "still the same load");
}

}  // namespace
}  // namespace dfs
