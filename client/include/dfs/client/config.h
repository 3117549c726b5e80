// What a web node's client shim is told: which namespace servers to ask,
// how long to wait for each thing, and how a target `\\server\share\path`
// becomes a local path (a mount) and a reachability probe (host:port).
// The file form is JSON (client/FORMAT.md).
// Thread-safety: values; MapTarget is a pure function.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/error.h"
#include "dfs/common/result.h"

namespace dfs::client {

inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;
inline constexpr size_t kMaxNamespaceServers = 64;

struct ClientConfig {
  // IP:PORT of each namespace server (dfsd), asked in this order; the one
  // that last answered is asked first.
  std::vector<std::string> namespace_servers;
  // Per namespace server: a server that does not answer within this is
  // skipped for the next one.
  std::chrono::milliseconds namespace_timeout{1000};
  // A target's probe (TCP connect) and its mapped path (stat) must answer
  // within these, or the target counts as unreachable.
  std::chrono::milliseconds probe_timeout{500};
  std::chrono::milliseconds path_timeout{1000};
  // Every operation on a target in the mount's path (lookup, open, stat,
  // read, readdir) must answer within this, or the target counts as
  // failed and the operation moves to the next one.
  std::chrono::milliseconds op_timeout{1000};
  // Calls into one content server that timed out and have not returned
  // yet: at this many, further calls to it are refused at once (a hung
  // server holds at most this many helper threads).
  size_t max_stuck_per_server = 4;
  // How long `dfsclient resolve` waits for the cache file's lock before
  // going on without the cache (with a warning).
  std::chrono::milliseconds cache_lock_timeout{2000};
  // A target's reachability is checked again when the last check is older
  // than this (the probe interval).
  std::chrono::milliseconds recheck_interval{500};
  // `\\server\share\rest` maps to `<mount_root>/<server>/<share>/rest`
  // unless `mounts` has the folded `\\server\share` or `\\server` (the
  // longer wins), which then stands for that prefix.
  std::string mount_root = "/net";
  std::map<std::string, std::string> mounts;  // folded UNC prefix -> dir
  // Folded server name -> "IP:PORT", or "none" for no network probe (the
  // path check alone decides). Servers not listed are probed at
  // `<server>:<default_probe_port>`; a name is resolved only when
  // `resolve_names` is true (otherwise only IP literals are probed).
  std::map<std::string, std::string> probes;
  uint16_t default_probe_port = 445;
  bool resolve_names = false;
  // Most entries the referral cache holds; the oldest go first.
  size_t max_cache_entries = 4096;
};

// Parses the JSON form. Errors: kInvalidArgument naming the bad key,
// kLimitExceeded.
Result<ClientConfig> ParseConfig(std::string_view json);

// Where one target lives on this node.
struct TargetLocation {
  std::string unc;         // `\\server\share\rest`, server spelling
  std::string key;         // `unc` folded: the target's identity
  std::string server;      // folded
  std::string local_root;  // the mapped directory for the target itself
  // "IP:PORT" to probe, empty for none; `probe_host_name` set when the
  // host is a name to resolve (resolve_names) rather than an IP.
  std::string probe;
  bool probe_host_name = false;
};

// `target` is a referral's network address, `\server\share[\rest]` or
// UNC. Errors: kInvalidArgument (not a target path).
Result<TargetLocation> MapTarget(const ClientConfig& config,
                                 std::string_view target);

}  // namespace dfs::client
