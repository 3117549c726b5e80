// Integration: dfsd's status page in headless Chromium from Debian. A
// running dfsd with a sample namespace; the page's DOM (after its scripts
// ran: --virtual-time-budget) shows the folders and targets in referral
// order with their probe health; a target whose server is killed turns
// unhealthy within the probe interval plus the page's refresh; a
// screenshot is written (DFS_SCREENSHOT_OUT=FILE keeps it, for the
// README). The JSON endpoints are checked over plain HTTP. Chromium's part
// is skipped, with the reason, where it is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "testing/daemon.h"
#include "testing/loopback.h"
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
    dfsd_ = std::make_unique<testing::Daemon>(std::vector<std::string>{
        DFSD_PATH, "--store", store_.path().string(), "--listen", "127.0.0.1:0",
        "--metrics", "127.0.0.1:0", "--probe",
        "web1=127.0.0.1:" + std::to_string(web1_->port()), "--probe",
        "web2=127.0.0.1:" + std::to_string(web2_port), "--probe-interval-ms",
        std::to_string(kProbeInterval.count()), "--probe-timeout-ms", "200"});
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

  testing::TempDir store_, profile_;
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

  // A screenshot for the README.
  const fs::path shot = profile_.path() / "status-page.png";
  auto r = Chromium(
      "shot", {"--window-size=1100,360", "--screenshot=" + shot.string()});
  ASSERT_TRUE(fs::exists(shot)) << r.err;
  EXPECT_GT(fs::file_size(shot), 1000u);
  if (const char* keep = std::getenv("DFS_SCREENSHOT_OUT")) {
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
  }

  // web1's server goes away: the probe sees it within its interval (plus
  // its timeout), the page at its next refresh.
  web1_.reset();
  const auto killed = SteadyClock::now();
  bool down_in_api = false;
  while (!down_in_api && SteadyClock::now() - killed < kProbeInterval + 1s) {
    const json health = json::parse(Body(HttpGet(metrics_port_, "/api/health")),
                                    nullptr, false);
    for (const auto& s : health.value("servers", json::array()))
      down_in_api = down_in_api || (s["server"] == "web1" && s["up"] == false);
  }
  EXPECT_TRUE(down_in_api);
  EXPECT_EQ(HealthIn(Dom(), "\\\\web1\\content\\Site1"), "down");
}

}  // namespace
}  // namespace dfs
