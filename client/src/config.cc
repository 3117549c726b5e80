#include "dfs/client/config.h"

#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "dfs/ns/path.h"

namespace dfs::client {
namespace {

using Json = nlohmann::json;

Error Bad(std::string_view key, std::string_view why) {
  return MakeError(
      Errc::kInvalidArgument,
      "client config: \"" + std::string(key) + "\" " + std::string(why));
}

// "IP:PORT" with an IPv4 literal; the client probes and asks only what it
// is told, it never guesses addresses.
bool IsIpPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= s.size()) return false;
  in_addr addr{};
  const std::string host(s.substr(0, colon));
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  int port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
    port = port * 10 + (c - '0');
    if (port > 65535) return false;
  }
  return port > 0;
}

Result<std::chrono::milliseconds> Millis(const Json& value,
                                         std::string_view key) {
  if (!value.is_number_unsigned() || value.get<uint64_t>() == 0 ||
      value.get<uint64_t>() > 3'600'000) {
    return Unexpected(Bad(key, "must be a number of milliseconds, 1..3600000"));
  }
  return std::chrono::milliseconds(value.get<uint64_t>());
}

}  // namespace

Result<ClientConfig> ParseConfig(std::string_view text) {
  if (text.size() > kMaxConfigBytes) {
    return Fail(Errc::kLimitExceeded, "client config: larger than 1 MiB");
  }
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false,
                         /*ignore_comments=*/true);
  if (doc.is_discarded() || !doc.is_object()) {
    return Fail(Errc::kInvalidArgument,
                "client config: not a JSON object (client/FORMAT.md)");
  }
  ClientConfig config;
  for (const auto& [key, value] : doc.items()) {
    if (key == "namespace_servers") {
      if (!value.is_array() || value.empty() ||
          value.size() > kMaxNamespaceServers) {
        return Unexpected(Bad(key, "must list 1..64 \"IP:PORT\" strings"));
      }
      for (const auto& s : value) {
        if (!s.is_string() || !IsIpPort(s.get<std::string>())) {
          return Unexpected(Bad(key, "holds " + s.dump() + ", not IP:PORT"));
        }
        config.namespace_servers.push_back(s.get<std::string>());
      }
    } else if (key == "namespace_timeout_ms") {
      DFS_ASSIGN_OR_RETURN(config.namespace_timeout, Millis(value, key));
    } else if (key == "probe_timeout_ms") {
      DFS_ASSIGN_OR_RETURN(config.probe_timeout, Millis(value, key));
    } else if (key == "path_timeout_ms") {
      DFS_ASSIGN_OR_RETURN(config.path_timeout, Millis(value, key));
    } else if (key == "op_timeout_ms") {
      DFS_ASSIGN_OR_RETURN(config.op_timeout, Millis(value, key));
    } else if (key == "cache_lock_timeout_ms") {
      DFS_ASSIGN_OR_RETURN(config.cache_lock_timeout, Millis(value, key));
    } else if (key == "max_stuck_per_server") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() == 0 ||
          value.get<uint64_t>() > 1024) {
        return Unexpected(Bad(key, "must be 1..1024"));
      }
      config.max_stuck_per_server = value.get<size_t>();
    } else if (key == "recheck_ms") {
      DFS_ASSIGN_OR_RETURN(config.recheck_interval, Millis(value, key));
    } else if (key == "mount_root") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>()[0] != '/') {
        return Unexpected(Bad(key, "must be an absolute directory"));
      }
      config.mount_root = value.get<std::string>();
    } else if (key == "mounts") {
      if (!value.is_object()) return Unexpected(Bad(key, "must be an object"));
      for (const auto& [unc, dir] : value.items()) {
        ns::NormalizedPath path;
        if (!NormalizeUnc(unc, 1, path) || path.count > 2) {
          return Unexpected(Bad(
              key,
              "key \"" + unc + "\" is not \\\\server or \\\\server\\share"));
        }
        if (!dir.is_string() || dir.get<std::string>().empty() ||
            dir.get<std::string>()[0] != '/') {
          return Unexpected(
              Bad(key, "\"" + unc + "\" must map to an absolute directory"));
        }
        config.mounts[path.folded] = dir.get<std::string>();
      }
    } else if (key == "probes") {
      if (!value.is_object()) return Unexpected(Bad(key, "must be an object"));
      for (const auto& [server, probe] : value.items()) {
        auto host = ns::ParseHostName(server);
        if (!host)
          return Unexpected(
              Bad(key, "key \"" + server + "\": " + host.error().context));
        if (!probe.is_string() || (probe.get<std::string>() != "none" &&
                                   !IsIpPort(probe.get<std::string>()))) {
          return Unexpected(
              Bad(key, "\"" + server + "\" must be \"IP:PORT\" or \"none\""));
        }
        config.probes[*host] = probe.get<std::string>();
      }
    } else if (key == "default_probe_port") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() > 65535) {
        return Unexpected(Bad(key, "must be a port, 0 for no probe"));
      }
      config.default_probe_port = static_cast<uint16_t>(value.get<uint64_t>());
    } else if (key == "resolve_names") {
      if (!value.is_boolean())
        return Unexpected(Bad(key, "must be true/false"));
      config.resolve_names = value.get<bool>();
    } else if (key == "max_cache_entries") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() == 0 ||
          value.get<uint64_t>() > 1'000'000) {
        return Unexpected(Bad(key, "must be 1..1000000"));
      }
      config.max_cache_entries = value.get<uint64_t>();
    } else {
      return Unexpected(Bad(key, "is not a client setting (client/FORMAT.md)"));
    }
  }
  if (config.namespace_servers.empty()) {
    return Unexpected(Bad("namespace_servers", "is required"));
  }
  return config;
}

Result<TargetLocation> MapTarget(const ClientConfig& config,
                                 std::string_view target) {
  std::string unc(target);
  if (unc.size() < 2 || !((unc[0] == '\\' || unc[0] == '/') &&
                          (unc[1] == '\\' || unc[1] == '/'))) {
    unc.insert(0, "\\");
  }
  ns::NormalizedPath path;
  DFS_RETURN_IF_ERROR(NormalizeUnc(unc, 2, path));
  TargetLocation out;
  out.unc = path.display;
  out.key = path.folded;
  out.server = std::string(path.Folded(0));
  // The longest configured prefix: `\\server\share`, then `\\server`.
  std::string local;
  size_t mapped = 0;
  for (size_t n = 2; n >= 1 && mapped == 0; --n) {
    auto it = config.mounts.find("\\\\" + std::string(path.FoldedRange(0, n)));
    if (it != config.mounts.end()) {
      local = it->second;
      mapped = n;
    }
  }
  if (mapped == 0) {
    local = config.mount_root;
    mapped = 0;
  }
  for (size_t i = mapped; i < path.count; ++i) {
    if (local.empty() || local.back() != '/') local += '/';
    local += path.Display(i);
  }
  out.local_root = std::move(local);

  auto probe = config.probes.find(out.server);
  if (probe != config.probes.end()) {
    if (probe->second != "none") out.probe = probe->second;
  } else if (config.default_probe_port != 0) {
    in_addr addr{};
    const std::string port = std::to_string(config.default_probe_port);
    if (inet_pton(AF_INET, out.server.c_str(), &addr) == 1) {
      out.probe = out.server + ":" + port;
    } else if (config.resolve_names) {
      out.probe = out.server + ":" + port;
      out.probe_host_name = true;
    }
  }
  return out;
}

}  // namespace dfs::client
