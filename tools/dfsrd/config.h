// A dfsrd member's configuration: one JSON file per member
// (replication/FORMAT.md, "dfsrd configuration").
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::dfsrd {

struct MemberConfig {
  std::string name;
  std::string address;  // IP:PORT where it listens
  std::filesystem::path folder;
};

struct GroupConfig {
  std::string group, member;
  std::filesystem::path key_file, state_dir;
  std::vector<MemberConfig> members;
  std::string topology = "mesh";  // or "hub"
  std::string hub;                // the hub's member name (topology hub)
  std::vector<std::string> filters = {"~*", "*.tmp", "*.bak"};
  // Fractions of a day are allowed (tests and drills use seconds).
  double tombstone_days = 60;
  uint64_t conflict_quota_mb = 1024;
  // What this member sends to all its peers together, in kilobits (1,000
  // bits) a second; 0: no limit.
  uint64_t bandwidth_kbps = 0;
  std::string metrics;  // IP:PORT, empty: none
  // Tuning (defaults suit a web farm; tests shorten them).
  // The full scan is the safety net: inotify takes changes as they happen
  // (without inotify, or with a folder it cannot watch, dfsrd scans every
  // second instead).
  std::chrono::milliseconds scan_interval{60000};
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds settle{
      200};  // a file unchanged this long is stable
  std::chrono::milliseconds peer_timeout{10000};

  std::chrono::milliseconds tombstone_lifetime() const {
    return std::chrono::milliseconds(
        static_cast<int64_t>(tombstone_days * 86'400'000.0));
  }
  const MemberConfig& self() const;
  // The members this one pulls from: every other (mesh); the hub (a
  // spoke), or every spoke (the hub).
  std::vector<MemberConfig> Upstreams() const;
  // Whether a name (a path's last component) is filtered out.
  bool Filtered(std::string_view name) const;
};

// Errors: kNotFound (no file), kInvalidArgument (saying which key is
// wrong: not JSON, a missing or mistyped key, this member not listed,
// duplicate names, a bad topology).
Result<GroupConfig> LoadGroupConfig(const std::filesystem::path& path);
Result<GroupConfig> ParseGroupConfig(std::string_view json);

}  // namespace dfs::dfsrd
