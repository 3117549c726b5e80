// dfsclient: what a web node runs. Resolves DFS paths to local paths
// through a persistent referral cache (like the Windows PKT), shows and
// flushes that cache, and mounts the namespace with FUSE.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cache_file.h"
#include "dfs/client/client.h"
#include "dfs/client/control.h"
#include "dfs/client_net/control_socket.h"
#include "dfs/client_net/system.h"
#include "mount.h"
#include "output.h"

namespace {

namespace fs = std::filesystem;
using dfs::client::Client;
using dfs::client::ClientConfig;
using dfs::client::ClientEventKind;
using dfs::tools::CacheFile;
using Json = nlohmann::json;

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A mount's events: one log line each (stable ids), and its counters.
class LogEvents final : public dfs::client::EventSink {
 public:
  explicit LogEvents(dfs::tools::MountMetrics& metrics) : metrics_(metrics) {}
  void OnEvent(const dfs::client::ClientEvent& e) override {
    metrics_.Count(e.kind);
    switch (e.kind) {
      case ClientEventKind::kFailover:
        spdlog::warn("DFSC2001 failover {}: {} -> {} ({})", e.prefix, e.from,
                     e.to, e.detail);
        break;
      case ClientEventKind::kFailback:
        spdlog::info("DFSC2002 failback {}: {} -> {} ({})", e.prefix, e.from,
                     e.to, e.detail);
        break;
      case ClientEventKind::kTargetDown:
        spdlog::warn("DFSC2003 target {} is down ({})", e.from, e.detail);
        break;
      case ClientEventKind::kTargetUp:
        spdlog::info("DFSC2004 target {} is up again ({})", e.from, e.detail);
        break;
      case ClientEventKind::kNamespaceServerDown:
        spdlog::warn("DFSC2005 namespace server {} did not answer: {}", e.from,
                     e.detail);
        break;
    }
  }

 private:
  dfs::tools::MountMetrics& metrics_;
};

// What a running mount answered, or nullopt when no mount listens beside
// this cache (the command then works on the cache file). A mount that is
// there but does not answer is an error: acting on the file instead would
// look like success while the mount kept its cache.
struct MountReply {
  bool reached = false;
  Json reply;
  std::string error;
};
MountReply AskMount(const CacheFile& cache,
                    const dfs::client::ControlRequest& request) {
  MountReply out;
  auto line = dfs::client_net::AskControl(cache.ControlSocketPath(), request,
                                          std::chrono::seconds(10));
  if (!line) {
    if (line.error().code != make_error_code(dfs::Errc::kNotFound)) {
      out.reached = true;
      out.error = line.error().context;
    }
    return out;
  }
  out.reached = true;
  out.reply = Json::parse(*line, nullptr, false);
  if (out.reply.is_discarded() || !out.reply.is_object()) {
    out.error = "the mount sent a reply that is not JSON";
  } else if (!out.reply.value("ok", false)) {
    out.error = out.reply.value("error", std::string("the mount refused"));
  }
  return out;
}

int Run(int argc, char** argv) {
  CLI::App app{
      "dfsclient: resolve DFS paths to local paths with failover and "
      "failback, show or flush the referral cache, mount the namespace"};
  app.require_subcommand(1);
  std::string config_path, servers, cache_path = dfs::tools::DefaultCachePath();
  bool json = false;
  app.add_option("--config", config_path,
                 "client config (JSON, client/FORMAT.md); default "
                 "$DFS_CLIENT_CONFIG or /etc/dfs/client.json");
  app.add_option(
      "--server", servers,
      "namespace servers IP:PORT[,IP:PORT...] (overrides the config)");
  app.add_option("--cache", cache_path, "referral cache file")
      ->capture_default_str();
  app.add_flag("--json", json, "machine-readable output");

  std::string path;
  auto* resolve =
      app.add_subcommand("resolve", "print the local path for a DFS path");
  resolve->add_option("path", path, "\\\\domain\\root\\folder\\file")
      ->required();
  auto* fail = app.add_subcommand(
      "fail", "report that the active target of a DFS path failed (moves on)");
  fail->add_option("path", path, "DFS path")->required();
  auto* info = app.add_subcommand("pktinfo", "show the referral cache");
  auto* flush = app.add_subcommand("pktflush", "empty the referral cache");
  dfs::tools::MountOptions mount_options;
  auto* mount =
      app.add_subcommand("mount", "mount the namespace read-only (FUSE)");
  mount->add_option("mountpoint", mount_options.mountpoint)->required();
  mount
      ->add_option("--domain", mount_options.domain,
                   "the namespace domain: MOUNTPOINT/ROOT is \\\\DOMAIN\\ROOT")
      ->required();
  mount->add_option("--root", mount_options.roots, "a root to list at the top");
  mount->add_flag("--allow-other", mount_options.allow_other,
                  "let other users (the web server) read the mount");
  mount->add_flag("--debug", mount_options.debug, "FUSE debug output");
  mount->add_option("--metrics", mount_options.metrics,
                    "serve Prometheus metrics on IP:PORT");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (config_path.empty()) {
    if (const char* env = std::getenv("DFS_CLIENT_CONFIG"); env && *env) {
      config_path = env;
    } else if (fs::exists("/etc/dfs/client.json")) {
      config_path = "/etc/dfs/client.json";
    }
  }
  std::string config_text = "{}";
  if (!config_path.empty()) {
    auto text = ReadFile(config_path);
    if (!text) {
      std::cerr << "dfsclient: cannot read " << config_path << "\n";
      return 2;
    }
    config_text = *text;
  }
  if (!servers.empty()) {
    Json doc = Json::parse(config_text, nullptr, false, true);
    if (doc.is_discarded() || !doc.is_object()) {
      std::cerr << "dfsclient: " << config_path << " is not a JSON object\n";
      return 2;
    }
    Json list = Json::array();
    std::stringstream ss(servers);
    for (std::string s; std::getline(ss, s, ',');) list.push_back(s);
    doc["namespace_servers"] = list;
    config_text = doc.dump();
  }
  auto config = dfs::client::ParseConfig(config_text);
  if (!config) {
    std::cerr << "dfsclient: " << config.error().context
              << (servers.empty() && config_path.empty()
                      ? " (pass --server IP:PORT or --config FILE)"
                      : "")
              << "\n";
    return 2;
  }

  spdlog::set_default_logger(spdlog::stderr_color_mt("dfsclient"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");

  dfs::client_net::DfsdReferralSource source;
  dfs::client_net::SystemReachabilityCheck check(*config);
  CacheFile cache(cache_path);

  if (*mount) {
    dfs::tools::MountMetrics metrics;
    LogEvents events(metrics);
    Client client(*config, source, check, dfs::SystemClock::Instance(),
                  &events);
    return dfs::tools::RunMount(client, mount_options, cache, metrics);
  }
  Client client(*config, source, check, dfs::SystemClock::Instance());

  // pktinfo, pktflush and fail reach a running mount's own cache first.
  if (*info || *flush || *fail) {
    dfs::client::ControlRequest request;
    request.command = *info    ? dfs::client::ControlCommand::kPktInfo
                      : *flush ? dfs::client::ControlCommand::kPktFlush
                               : dfs::client::ControlCommand::kFail;
    request.path = path;
    MountReply mount_reply = AskMount(cache, request);
    if (mount_reply.reached && !mount_reply.error.empty()) {
      std::cerr << "dfsclient: the mount on " << cache.ControlSocketPath()
                << ": " << mount_reply.error << "\n";
      return 1;
    }
    if (mount_reply.reached && *info) {
      const Json& entries = mount_reply.reply["cache"];
      if (json) {
        std::cout << entries.dump(2) << "\n";
      } else {
        std::cout << "(the running mount's cache)\n"
                  << dfs::tools::CacheText(entries);
      }
      return 0;
    }
    if (mount_reply.reached && *fail) {
      const Json& r = mount_reply.reply["resolution"];
      std::cout << (json ? r.dump(2) : r.value("local_path", "")) << "\n";
      return 0;
    }
    if (mount_reply.reached) {
      std::cout << "dfsclient: the running mount's referral cache flushed\n";
    }
  }

  // The cache file. When it cannot be locked or is not safe to use, a
  // resolve still answers (without the cache, with a warning); commands
  // that exist to change the cache fail.
  const auto locked = cache.Lock(config->cache_lock_timeout);
  if (!locked) {
    std::cerr << "dfsclient: warning: not using the cache: "
              << locked.error().context << "\n";
    if (*flush || *info || *fail) return 1;
  }
  // A cache that cannot be written costs the next run a referral, not
  // this answer: a warning (pktflush, which exists to write it, fails).
  auto save = [&] {
    if (!locked) return true;
    if (auto st = cache.Save(client); !st) {
      std::cerr << "dfsclient: warning: cannot save the cache: "
                << st.error().context << "\n";
      return false;
    }
    return true;
  };
  if (*flush) {
    client.Flush();
    if (!save()) return 1;
    std::cout << "dfsclient: referral cache flushed\n";
    return 0;
  }
  if (locked) cache.Load(client, std::cerr);
  if (*info) {
    const Json entries = dfs::tools::CacheJson(client.Entries());
    std::cout << (json ? entries.dump(2) + "\n"
                       : dfs::tools::CacheText(entries));
    return 0;
  }
  if (*fail) {
    auto r = client.Resolve(path, false);
    if (!r) {
      std::cerr << "dfsclient: " << r.error().context << "\n";
      return 1;
    }
    client.ReportFailure(r->prefix, r->ActiveTarget().unc);
    auto next = client.Resolve(path);
    // The failure report lives in the cache: not saved, it is lost.
    const bool saved = save();
    if (!next) {
      std::cerr << "dfsclient: " << next.error().context << "\n";
      return 1;
    }
    std::cout << (json ? dfs::tools::ResolutionJson(*next).dump(2)
                       : next->local_path)
              << "\n";
    return saved ? 0 : 1;
  }
  // resolve
  auto r = client.Resolve(path);
  save();
  if (!r) {
    std::cerr << "dfsclient: " << r.error().context << "\n";
    return 1;
  }
  if (json) {
    Json j = dfs::tools::ResolutionJson(*r);
    j["path"] = path;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << r->local_path << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "dfsclient: " << e.what() << "\n";
    return 1;
  }
}
