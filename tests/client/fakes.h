// Fakes for the client engine: a clock that moves only when told, a
// namespace of folders answered like dfsd answers, and targets whose
// reachability the test sets.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dfs/client/client.h"
#include "dfs/ns/path.h"
#include "dfs/referral/resolver.h"

namespace dfs::client::testing {

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_ = TimePoint(std::chrono::hours(24 * 365 * 50));
};

struct FakeFolder {
  std::vector<std::string> targets;  // `\server\share\path`
  uint32_t ttl = 1800;
  bool failback = false;
  bool root = false;
};

// Answers from `folders` (folded `\host\root[\folder]` -> referral), the
// longest prefix at a component boundary, PathConsumed in UTF-16 bytes of
// what was asked. Servers listed in `dead` time out (kIo).
class FakeNamespaceServer final : public ReferralSource {
 public:
  Result<referral::DecodedResponse> Fetch(const std::string& server,
                                          const std::string& dfs_path,
                                          std::chrono::milliseconds) override {
    std::lock_guard lock(mu_);
    ++asked[server];
    if (dead.count(server)) return Fail(Errc::kIo, server + " timed out");
    const std::string folded = ns::FoldCase(dfs_path);
    for (size_t end = folded.size(); end > 0;) {
      auto it = folders.find(folded.substr(0, end));
      if (it != folders.end()) {
        referral::DecodedResponse r;
        r.path_consumed = static_cast<uint16_t>(
            2 *
            referral::Utf16Length(std::string_view(dfs_path).substr(0, end)));
        r.header_flags = (it->second.failback ? referral::kTargetFailback : 0) |
                         (it->second.root ? referral::kReferralServers
                                          : referral::kStorageServers);
        for (const auto& t : it->second.targets) {
          referral::DecodedEntry e;
          e.version = 4;
          e.ttl = it->second.ttl;
          e.dfs_path = dfs_path.substr(0, end);
          e.network_address = t;
          r.entries.push_back(e);
        }
        return r;
      }
      end = folded.rfind('\\', end - 1);
      if (end == 0 || end == std::string::npos) break;
    }
    return Fail(Errc::kNotFound, "no such path " + dfs_path);
  }
  int Asked(const std::string& server) {
    std::lock_guard lock(mu_);
    return asked[server];
  }
  int AskedTotal() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (auto& [s, k] : asked) n += k;
    return n;
  }

  std::map<std::string, FakeFolder> folders;
  std::set<std::string> dead;
  std::map<std::string, int> asked;

 private:
  std::mutex mu_;
};

// Targets are reachable unless their server is in `down`.
class FakeTargets final : public ReachabilityCheck {
 public:
  bool Reachable(const TargetLocation& target) override {
    std::lock_guard lock(mu_);
    ++checks[target.server];
    return !down.count(target.server);
  }
  void SetDown(const std::string& server, bool is_down) {
    std::lock_guard lock(mu_);
    if (is_down) {
      down.insert(server);
    } else {
      down.erase(server);
    }
  }
  int Checks(const std::string& server) {
    std::lock_guard lock(mu_);
    return checks[server];
  }

 private:
  std::mutex mu_;
  std::set<std::string> down;
  std::map<std::string, int> checks;
};

}  // namespace dfs::client::testing
