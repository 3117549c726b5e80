// Failover and failback, end to end: a real dfsd on 127.0.0.1, two
// loopback listeners standing in for the content servers web1 (preferred,
// "first among all targets") and web2, and a web node's client (the real
// dfs::client engine with its real referral source and reachability
// checks, default settings) resolving in a loop. Each round kills web1's
// server, times until the loop gets web2, restarts web1 and times until
// the loop is back on web1 (failback on, folder TTL 5 s).
//
//   bash bench/failover.sh        (builds, then runs this)
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>
#include <thread>

#include "dfs/client/client.h"
#include "dfs/client_net/system.h"
#include "testing/daemon.h"
#include "testing/loopback.h"
#include "testing/subprocess.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

bool Dfsutil(const std::string& dfsutil, const fs::path& store,
             std::vector<std::string> args) {
  args.insert(args.begin(), {dfsutil, "--store", store.string()});
  auto r = dfs::testing::Run(args);
  if (r.exit_code != 0) std::cerr << r.err;
  return r.exit_code == 0;
}

double Seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"failover/failback timing of the client shim against dfsd"};
  std::string dfsutil, dfsd;
  int rounds = 5, ttl = 5, loop_ms = 10, probe_ms = 1000;
  app.add_option("--dfsutil", dfsutil)->required();
  app.add_option("--dfsd", dfsd)->required();
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 50));
  app.add_option("--ttl", ttl, "folder TTL (s)")->check(CLI::Range(1, 60));
  app.add_option("--loop-ms", loop_ms, "pause between resolves")
      ->check(CLI::Range(1, 1000));
  app.add_option("--dfsd-probe-ms", probe_ms, "dfsd's own probe interval");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/tmp/dfs-failover-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  const fs::path store = dir / "store";
  for (const char* s : {"web1", "web2"})
    fs::create_directories(dir / s / "Site1");
  dfs::testing::FakeContentServer web1, web2;
  const uint16_t web1_port = web1.port();
  const std::string web1_probe = "127.0.0.1:" + std::to_string(web1_port);
  const std::string web2_probe = "127.0.0.1:" + std::to_string(web2.port());

  const std::string folder = "\\\\contoso\\webfarm\\Site1";
  if (!Dfsutil(dfsutil, store, {"root", "add", "\\\\contoso\\webfarm"}) ||
      !Dfsutil(dfsutil, store,
               {"target", "add", "\\\\contoso\\webfarm", "\\\\ns1\\webfarm"}) ||
      !Dfsutil(dfsutil, store,
               {"link", "add", folder, "\\\\web1\\content\\Site1", "--priority",
                "first"}) ||
      !Dfsutil(dfsutil, store,
               {"target", "add", folder, "\\\\web2\\content\\Site1"}) ||
      !Dfsutil(dfsutil, store,
               {"property", "ttl", "set", folder, std::to_string(ttl)}) ||
      !Dfsutil(dfsutil, store, {"property", "failback", "set", folder, "on"})) {
    return 1;
  }
  // dfsd probes the content servers too (moving a dead one last in its
  // referrals), as it would in production.
  dfs::testing::Daemon server(
      {dfsd, "--store", store.string(), "--listen", "127.0.0.1:0", "--probe",
       "web1=" + web1_probe, "--probe", "web2=" + web2_probe,
       "--probe-interval-ms", std::to_string(probe_ms)});
  auto line = server.ReadLine(10s);
  std::smatch m;
  if (!line || !std::regex_search(*line, m, std::regex(":(\\d+)"))) {
    std::cerr << "dfsd did not start: " << server.Stderr();
    return 1;
  }

  dfs::client::ClientConfig config;  // defaults, but for where things are
  config.namespace_servers = {"127.0.0.1:" + m[1].str()};
  config.mounts["\\\\web1\\content"] = (dir / "web1").string();
  config.mounts["\\\\web2\\content"] = (dir / "web2").string();
  config.probes["web1"] = web1_probe;
  config.probes["web2"] = web2_probe;
  dfs::client_net::DfsdReferralSource source;
  dfs::client_net::SystemReachabilityCheck check(config);
  dfs::client::Client client(config, source, check,
                             dfs::SystemClock::Instance());

  const std::string path = folder + "\\index.html";
  // Resolves until the active target's server is `want` or `limit` passes;
  // returns the time it took, or nullopt.
  auto until_on =
      [&](const std::string& want,
          Steady::duration limit) -> std::optional<Steady::duration> {
    const auto start = Steady::now();
    while (Steady::now() - start < limit) {
      auto r = client.Resolve(path);
      if (r && r->ActiveTarget().unc.find(want) != std::string::npos) {
        return Steady::now() - start;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(loop_ms));
    }
    return std::nullopt;
  };

  std::cout << "client: recheck " << config.recheck_interval.count()
            << " ms, probe timeout " << config.probe_timeout.count()
            << " ms; folder TTL " << ttl
            << " s, failback on; dfsd probes every " << probe_ms
            << " ms; resolve loop every " << loop_ms << " ms\n";
  if (!until_on("web1", 10s)) {
    std::cerr << "never resolved to web1\n";
    return 1;
  }
  std::vector<double> failover, failback;
  for (int round = 0; round < rounds; ++round) {
    // Kill at a random point of the TTL, as a real failure would come.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(137 * (round + 1) % 1000));
    web1.Close();
    auto over = until_on("web2", 30s);
    web1.Open(web1_port);
    auto back = until_on("web1", 60s);
    if (!over || !back) {
      std::cerr << "round " << round << ": "
                << (!over ? "never failed over" : "never failed back") << "\n";
      return 1;
    }
    failover.push_back(Seconds(*over));
    failback.push_back(Seconds(*back));
    std::printf("round %d: failover %.3f s, failback %.3f s\n", round + 1,
                failover.back(), failback.back());
  }
  auto summary = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return std::make_pair(v[v.size() / 2], v.back());
  };
  const auto [over_median, over_max] = summary(failover);
  const auto [back_median, back_max] = summary(failback);
  const double back_goal = ttl + config.recheck_interval.count() / 1000.0;
  std::printf("failover: median %.3f s, max %.3f s (goal <= 1 s: %s)\n",
              over_median, over_max, over_max <= 1.0 ? "met" : "MISSED");
  std::printf(
      "failback: median %.3f s, max %.3f s (goal <= TTL + probe interval = "
      "%.1f s: %s)\n",
      back_median, back_max, back_goal,
      back_max <= back_goal ? "met" : "MISSED");
  server.Kill(SIGTERM);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
