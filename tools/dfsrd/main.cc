// dfsrd: one member of a content replication group.
//   dfsrd --config FILE                 run in the foreground (SIGTERM stops)
//   dfsrd status --config FILE [--json] per peer: link, backlog, counters
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "config.h"
#include "dfs/common/clock.h"
#include "dfs/referral_net/auth.h"
#include "dfs/repl_state/state_store.h"
#include "member.h"
#include "status.h"

namespace {

using dfs::dfsrd::GroupConfig;
namespace fs = std::filesystem;

int64_t NowMillis() { return dfs::UnixMillis(); }

int Run(const GroupConfig& config) {
  auto key = dfs::referral_net::ReadAdminKey(config.key_file.string());
  if (!key) {
    std::cerr << "dfsrd: " << key.error().Message() << "\n";
    return 2;
  }
  // Signals are taken by this thread only (sigwait), never mid-write.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  dfs::dfsrd::Member member(config, *key);
  dfs::Status started = member.Start();
  if (!started.ok()) {
    spdlog::error("DFSR3001 cannot start: {}", started.error().Message());
    return 1;
  }
  std::cout << "dfsrd member " << config.member << " listening on "
            << config.self().address;
  if (!member.metrics_address().empty()) {
    std::cout << ", metrics on http://" << member.metrics_address()
              << "/metrics";
  }
  std::cout << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("DFSR3009 stopping (signal {})", signal);
  member.Stop();
  return 0;
}

// The member's state as `dfsrd status --json` prints it; null (and a
// message on stderr) when the store cannot be read.
nlohmann::json StatusJson(const GroupConfig& config) {
  auto store = dfs::repl::StateStore::OpenForReading(config.state_dir);
  if (!store) {
    std::cerr << "dfsrd: " << store.error().Message() << "\n";
    return nullptr;
  }
  nlohmann::json counters = nlohmann::json::object();
  {
    std::ifstream in(config.state_dir / "counters.json");
    if (in) counters = nlohmann::json::parse(in, nullptr, false);
  }
  return dfs::dfsrd::MemberStatusJson(config, **store, counters, NowMillis());
}

// In step: every peer answered after `since_ms` and nothing of theirs is
// left to take.
bool InStep(const nlohmann::json& status, int64_t since_ms) {
  if (status.is_null()) return false;
  const int64_t now = NowMillis();
  for (const auto& p : status["peers"]) {
    if (p["last_contact_ms_ago"].is_null() ||
        now - p["last_contact_ms_ago"].get<int64_t>() < since_ms ||
        p["backlog_in"].get<uint64_t>() != 0) {
      return false;
    }
  }
  return true;
}

int Status(const GroupConfig& config, bool as_json, double wait_seconds) {
  nlohmann::json out = StatusJson(config);
  int exit_code = 0;
  if (wait_seconds > 0) {
    // For a service that must not serve the folder before it has what its
    // peers have (a web server's unit: ExecStartPre=dfsrd status
    // --wait-in-step 60): polls until in step, or fails at the deadline.
    const int64_t started = NowMillis();
    const int64_t deadline =
        started + static_cast<int64_t>(wait_seconds * 1000);
    while (!InStep(out, started) && NowMillis() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      out = StatusJson(config);
    }
    if (!InStep(out, started)) {
      std::cerr << "dfsrd: not in step with every peer after " << wait_seconds
                << " s\n";
      exit_code = 1;
    }
  }
  if (out.is_null()) return 1;
  const uint64_t tombstones = out["tombstones"];
  const nlohmann::json counters = out["counters"];
  if (as_json) {
    std::cout << out.dump(2) << "\n";
    return exit_code;
  }
  std::cout << "group " << config.group << ", member " << config.member << ": "
            << out["records"] << " records (" << tombstones
            << " tombstones), sequence " << out["sequence"] << ", "
            << out["conflicts_kept"] << " conflict versions kept\n";
  for (const auto& p : out["peers"]) {
    std::cout << "  " << p["name"].get<std::string>() << " ("
              << p["address"].get<std::string>() << "): "
              << (p["connected"].get<bool>() ? "connected" : "not connected")
              << ", last contact "
              << (p["last_contact_ms_ago"].is_null()
                      ? std::string("never")
                      : std::to_string(
                            p["last_contact_ms_ago"].get<int64_t>()) +
                            " ms ago")
              << ", backlog in " << p["backlog_in"] << ", out "
              << p["backlog_out"]
              << (p["backlog_out_complete"].get<bool>() ? "" : "+")
              << (p["oldest_pending_out_ms_ago"].is_null()
                      ? std::string()
                      : " (oldest pending " +
                            std::to_string(
                                p["oldest_pending_out_ms_ago"].get<int64_t>() /
                                1000) +
                            " s ago)")
              << (p["rejoining"].get<bool>()
                      ? " (rejoining: out of contact longer than a tombstone "
                        "lives)"
                      : "")
              << "\n";
  }
  if (counters.is_object() && !counters.empty()) {
    std::cout << "  files received " << counters.value("files_received", 0)
              << " (" << counters.value("content_bytes_received", 0)
              << " bytes of content in " << counters.value("bytes_received", 0)
              << " bytes on the wire), copied locally "
              << counters.value("files_copied_locally", 0) << ", bytes sent "
              << counters.value("bytes_sent", 0) << ", conflicts "
              << counters.value("conflicts", 0) << "; deltas saved "
              << out["bytes_saved"] << " bytes\n";
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfsrd: full-mesh replication of a content folder"};
  std::string config_path;
  app.add_option("--config", config_path, "the member's JSON config");
  std::string metrics;
  app.add_option("--metrics", metrics,
                 "serve Prometheus metrics on IP:PORT (or the config's "
                 "\"metrics\")");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "log every change");
  auto* status = app.add_subcommand("status", "the member's replication state");
  bool as_json = false;
  status->add_flag("--json", as_json, "as JSON");
  status->add_option("--config", config_path, "the member's JSON config");
  double wait_seconds = 0;
  status->add_option("--wait-in-step", wait_seconds,
                     "wait (at most this many seconds) until every peer has "
                     "answered and nothing of theirs is left to take; exit 1 "
                     "if not");
  CLI11_PARSE(app, argc, argv);
  if (config_path.empty()) {
    std::cerr << "dfsrd: give --config FILE\n";
    return 2;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("dfsrd"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  if (verbose) spdlog::set_level(spdlog::level::debug);
  auto config = dfs::dfsrd::LoadGroupConfig(config_path);
  if (!config) {
    std::cerr << "dfsrd: " << config.error().Message() << "\n";
    return 2;
  }
  if (status->parsed()) return Status(*config, as_json, wait_seconds);
  if (!metrics.empty()) config->metrics = metrics;
  return Run(*config);
}
