// dfsclient: what a web node runs. Resolves DFS paths to local paths
// through a persistent referral cache (like the Windows PKT), shows and
// flushes that cache, and mounts the namespace with FUSE.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dfs/client/client.h"
#include "dfs/client_net/system.h"
#include "dfs/common/atomic_file.h"
#include "mount.h"

namespace {

namespace fs = std::filesystem;
using dfs::client::Client;
using dfs::client::ClientConfig;
using dfs::client::Resolution;
using Json = nlohmann::json;

std::string DefaultCachePath() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/dfs/pkt.json";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/dfs/pkt.json";
  }
  return "/tmp/dfs-pkt-" + std::to_string(getuid()) + ".json";
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t SecondsUntil(dfs::Clock::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             t - dfs::SystemClock::Instance().Now())
      .count();
}

Json ToJson(const Resolution& r) {
  Json targets = Json::array();
  for (size_t i = 0; i < r.targets.size(); ++i) {
    targets.push_back(
        {{"target", r.targets[i].unc},
         {"local_root", r.targets[i].local_root},
         {"state", dfs::client::TargetStateName(r.targets[i].state)},
         {"active", i == r.active}});
  }
  return {
      {"prefix", r.prefix},
      {"remainder", r.remainder},
      {"local_path", r.local_path},
      {"root_referral", r.root_referral},
      {"ttl", r.ttl_seconds},
      {"expires_in", SecondsUntil(r.expires_at)},
      {"expires_at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                            r.expires_at.time_since_epoch())
                            .count()},
      {"failback", r.failback},
      {"from_cache", r.from_cache},
      {"active", r.active},
      {"targets", targets}};
}

void PrintEntry(const std::string& key, const Resolution& r) {
  const int64_t left = SecondsUntil(r.expires_at);
  std::cout << r.prefix
            << (key != dfs::ns::FoldCase(r.prefix) ? "  (for " + key + ")" : "")
            << "\n  " << (r.root_referral ? "root" : "folder") << ", ttl "
            << r.ttl_seconds << " s, "
            << (left > 0 ? "expires in " + std::to_string(left) + " s"
                         : std::string("expired"))
            << ", failback " << (r.failback ? "on" : "off") << "\n";
  for (size_t i = 0; i < r.targets.size(); ++i) {
    std::cout << (i == r.active ? "  * " : "    ") << r.targets[i].unc
              << "  -> " << r.targets[i].local_root << "  "
              << dfs::client::TargetStateName(r.targets[i].state) << "\n";
  }
}

// The cache file is shared by every dfsclient run of this user: a lock
// file serialises them, and the cache is replaced by rename so a reader
// never sees half of it.
class CacheFile {
 public:
  explicit CacheFile(std::string path) : path_(std::move(path)) {}
  ~CacheFile() {
    if (lock_fd_ >= 0) close(lock_fd_);
  }
  bool Lock() {
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    lock_fd_ =
        open((path_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX) != 0) {
      std::cerr << "dfsclient: cannot lock " << path_
                << ".lock: " << std::strerror(errno) << "\n";
      return false;
    }
    return true;
  }
  void Load(Client& client) {
    auto text = ReadFile(path_);
    if (!text || text->empty()) return;
    if (auto st = client.ImportState(*text); !st) {
      std::cerr << "dfsclient: ignoring the cache in " << path_ << ": "
                << st.error().context << "\n";
    }
  }
  bool Save(const Client& client) {
    if (auto st = dfs::WriteFileAtomically(path_, client.ExportState()); !st) {
      std::cerr << "dfsclient: cannot save the cache: " << st.error().context
                << "\n";
      return false;
    }
    return true;
  }

 private:
  std::string path_;
  int lock_fd_ = -1;
};

int Run(int argc, char** argv) {
  CLI::App app{
      "dfsclient: resolve DFS paths to local paths with failover and "
      "failback, show or flush the referral cache, mount the namespace"};
  app.require_subcommand(1);
  std::string config_path, servers, cache_path = DefaultCachePath();
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

  dfs::client_net::DfsdReferralSource source;
  dfs::client_net::SystemReachabilityCheck check(*config);
  Client client(*config, source, check, dfs::SystemClock::Instance());

  if (*mount) return dfs::tools::RunMount(client, mount_options);

  CacheFile cache(cache_path);
  if (!cache.Lock()) return 1;
  if (*flush) {
    client.Flush();
    if (!cache.Save(client)) return 1;
    std::cout << "dfsclient: referral cache flushed\n";
    return 0;
  }
  cache.Load(client);
  if (*info) {
    const auto entries = client.Entries();
    if (json) {
      Json out = Json::array();
      for (const auto& e : entries) {
        Json j = ToJson(e.referral);
        j["key"] = e.key;
        out.push_back(j);
      }
      std::cout << out.dump(2) << "\n";
    } else if (entries.empty()) {
      std::cout << "(the referral cache is empty)\n";
    } else {
      for (const auto& e : entries) PrintEntry(e.key, e.referral);
    }
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
    const bool saved = cache.Save(client);
    if (!next) {
      std::cerr << "dfsclient: " << next.error().context << "\n";
      return 1;
    }
    std::cout << (json ? ToJson(*next).dump(2) : next->local_path) << "\n";
    return saved ? 0 : 1;
  }
  // resolve
  auto r = client.Resolve(path);
  const bool saved = cache.Save(client);
  if (!r) {
    std::cerr << "dfsclient: " << r.error().context << "\n";
    return 1;
  }
  if (json) {
    Json j = ToJson(*r);
    j["path"] = path;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << r->local_path << "\n";
  }
  return saved ? 0 : 1;
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
