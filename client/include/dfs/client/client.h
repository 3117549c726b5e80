// The client shim's engine: a referral cache like the Windows PKT, with
// failover, failback and namespace-server failover.
//
// Resolve(`\\contoso\webfarm\Site1\index.html`) walks the cache from the
// longest cached prefix (a folder referral covers everything below it);
// a miss or an expired entry asks a namespace server, the next one when a
// server does not answer in time. Each entry keeps the server's ordered
// target list and an active target, the first reachable one. When the
// active target fails (the caller reports it, or its reachability check
// fails) the entry moves to the next reachable target at once. When the
// TTL expires the entry is refreshed: with failback on it returns to the
// best reachable target, with failback off it stays on the target it moved
// to while that one works.
//
// A root referral (no folder covers the path) is cached only for the exact
// path asked, so a folder added later, or another folder under the same
// root, is still asked for.
//
// I/O is injected: a ReferralSource asks namespace servers, a
// ReachabilityCheck probes targets, a Clock tells the time. The engine
// itself does no I/O, so it is tested with fakes (tests/client/).
// Thread-safety: every method may be called from many threads at once.
// Network calls and checks run outside the lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/client/config.h"
#include "dfs/common/clock.h"
#include "dfs/common/result.h"
#include "dfs/ns/path.h"
#include "dfs/referral/codec.h"

namespace dfs::client {

// Asks one namespace server for a referral. Errors: kIo (no answer in
// time: the client asks the next server), anything else is the server's
// answer (kNotFound, kInvalidArgument...) and is returned to the caller.
class ReferralSource {
 public:
  virtual ~ReferralSource() = default;
  virtual Result<referral::DecodedResponse> Fetch(
      const std::string& server, const std::string& dfs_path,
      std::chrono::milliseconds timeout) = 0;
};

// Whether a target answers now: its probe connects and its mapped path
// can be looked at, each within its timeout. Must return within about
// probe_timeout + path_timeout whatever the target does (a hung mount
// included).
class ReachabilityCheck {
 public:
  virtual ~ReachabilityCheck() = default;
  virtual bool Reachable(const TargetLocation& target) = 0;
};

// What happened to the client's view of the farm, for logs and metrics
// (the mount writes each as a log line with an event id).
enum class ClientEventKind : uint8_t {
  kFailover,             // an entry moved off a failing target
  kFailback,             // a refresh returned an entry to a better target
  kTargetDown,           // a target's check failed or a caller reported it
  kTargetUp,             // a target that was down passed its check again
  kNamespaceServerDown,  // a namespace server did not answer in time
};
std::string_view ClientEventName(ClientEventKind kind);

struct ClientEvent {
  ClientEventKind kind;
  std::string prefix;  // the DFS prefix (failover, failback), else empty
  std::string from;    // the target or server that was left or failed
  std::string to;      // the target now active (failover, failback)
  std::string detail;  // why, for the log
};

// Receives events; called on the thread that caused them, outside the
// client's lock, so it may call back into the client.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnEvent(const ClientEvent& event) = 0;
};

enum class TargetState : uint8_t {
  kUnknown,      // not checked yet
  kReachable,    // the last check passed
  kUnreachable,  // the last check failed, or a caller reported a failure
};
std::string_view TargetStateName(TargetState state);

struct ResolvedTarget {
  std::string unc;         // `\\server\share\rest`
  std::string local_root;  // where it is mounted on this node
  TargetState state = TargetState::kUnknown;
  Clock::TimePoint checked_at{};
};

struct Resolution {
  std::string prefix;  // the consumed DFS prefix, UNC, server spelling
  std::string
      remainder;  // the rest of the asked path (`\index.html`), may be empty
  bool root_referral = false;
  bool failback = false;
  uint32_t ttl_seconds = 0;
  Clock::TimePoint expires_at{};
  bool from_cache = false;              // no namespace server was asked
  std::vector<ResolvedTarget> targets;  // the server's order
  size_t active = 0;
  // The active target's local root + remainder (with `/`).
  std::string local_path;

  const ResolvedTarget& ActiveTarget() const { return targets[active]; }
};

// One cache entry as pktinfo shows it.
struct CacheEntryView {
  std::string key;  // folded lookup key
  Resolution referral;
};

class Client {
 public:
  // `events` may be null; it must outlive the client.
  Client(ClientConfig config, ReferralSource& source, ReachabilityCheck& check,
         const Clock& clock, EventSink* events = nullptr);

  // `path` is UNC (`\\contoso\webfarm\Site1\a.html`, `/` allowed).
  // Errors: kInvalidArgument (bad path), kNotFound (the namespace has no
  // such path), kIo (no namespace server answered, or no target of the
  // path is reachable: the message names them).
  // With `require_reachable` false, a referral whose targets all fail
  // their checks is still returned (every target marked unreachable)
  // instead of kIo: for callers that need the namespace, not the content
  // (a mount showing a root's directory).
  Result<Resolution> Resolve(std::string_view path,
                             bool require_reachable = true);

  // The caller could not use `target` of the entry for `prefix` (an I/O
  // error): the target counts as unreachable until its next recheck and
  // the entry moves on to the next reachable target.
  void ReportFailure(std::string_view prefix, std::string_view target_unc);

  // Checks `target` now, ignoring a cached result (used when a file is
  // missing on a target to tell "not there" from "target gone").
  bool CheckNow(std::string_view target_unc);

  // pktflush: forgets every referral and every reachability result.
  void Flush();
  std::vector<CacheEntryView> Entries() const;

  // The cache and reachability results as JSON (client/FORMAT.md), so
  // that a command-line client run again behaves like one long-lived
  // machine. An import keeps at most max_cache_entries (those expiring
  // last) and costs linear time in the file's entries. Import errors:
  // kCorrupt (not ours), kUnsupported (version).
  std::string ExportState() const;
  Status ImportState(std::string_view json);

  const ClientConfig& config() const { return config_; }

 private:
  struct Entry {
    std::string prefix;      // UNC, in the spelling first asked for
    std::string prefix_key;  // `prefix` folded
    size_t prefix_components = 0;
    bool root_referral = false;
    bool failback = false;
    uint32_t ttl_seconds = 0;
    Clock::TimePoint expires_at{};
    std::vector<TargetLocation> targets;
    size_t active = 0;
    uint64_t generation = 0;
  };
  struct Health {
    TargetState state = TargetState::kUnknown;
    Clock::TimePoint checked_at{};
    bool reported = false;  // a caller's report, not a check
  };

  Result<Entry> Fetch(const std::string& request_path, size_t* consumed_units);
  Result<Entry> BuildEntry(const referral::DecodedResponse& response) const;
  // Sets the entry's prefix to the first `components` of `path`.
  static void SetPrefix(Entry& entry, const ns::NormalizedPath& path,
                        size_t components);
  // First reachable target starting at `from` (wrapping), or nullopt.
  std::optional<size_t> FirstReachable(const Entry& entry, size_t from);
  bool IsReachable(const TargetLocation& target, bool force);
  // Returns the active target of the entry it replaced, if any.
  std::optional<TargetLocation> Store(const std::string& key, Entry entry);
  // Requires mu_ held. Drops expired entries, then the ones expiring first,
  // until at most max_cache_entries remain (one sort, not one scan each).
  void TrimLocked();
  void Emit(ClientEvent event);
  Resolution View(const Entry& entry, std::string_view remainder,
                  bool from_cache) const;

  const ClientConfig config_;
  ReferralSource& source_;
  ReachabilityCheck& check_;
  const Clock& clock_;
  EventSink* const events_;

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // folded key -> entry
  std::map<std::string, Health> health_;  // folded target UNC -> health
  size_t preferred_server_ = 0;
  uint64_t next_generation_ = 1;
};

}  // namespace dfs::client
