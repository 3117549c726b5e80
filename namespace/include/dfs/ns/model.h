// The namespace model: roots, folders and folder targets with their
// properties, as plain values.
//
// A root is `\\host\name` (host: a domain, NetBIOS or FQDN, or a server).
// A folder (a "link" in dfsutil's words) is a path below a root, possibly
// several components deep (`Sites\Site1`); no folder lies below another.
// A target is `\\server\share[\path]`: a folder's targets are content
// servers, a root's targets are its namespace servers.
//
// Priority classes and states follow MS-DFSNM (DFS_TARGET_PRIORITY_CLASS,
// DFS_VOLUME_STATE_* / DFS_STORAGE_STATE_*); the numeric values of
// PriorityClass are MS-DFSNM's, so they can go on the wire unchanged.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::ns {

inline constexpr uint32_t kDefaultRootTtlSeconds = 300;
inline constexpr uint32_t kDefaultFolderTtlSeconds = 1800;
// TTLs are carried in 32-bit fields on the wire (MS-DFSC); a week is
// longer than anybody wants a client to cache a referral.
inline constexpr uint32_t kMaxTtlSeconds = 7 * 24 * 3600;
inline constexpr uint8_t kMaxPriorityRank = 31;  // MS-DFSNM: 0..31
inline constexpr size_t kMaxCommentBytes = 1024;
inline constexpr size_t kMaxSiteNameBytes = 255;
inline constexpr size_t kMaxTargetsPerFolder = 1024;

enum class State : uint8_t { kOnline = 0, kOffline = 1 };

// MS-DFSNM DFS_TARGET_PRIORITY_CLASS values.
enum class PriorityClass : uint8_t {
  kSiteCostNormal = 0,  // default
  kGlobalHigh = 1,      // "first among all targets"
  kSiteCostHigh = 2,    // "first among targets of equal cost"
  kSiteCostLow = 3,     // "last among targets of equal cost"
  kGlobalLow = 4,       // "last among all targets"
};

// How a referral orders a root's targets (DFS Management's "ordering
// method" on the namespace's Referrals tab).
enum class OrderingMethod : uint8_t {
  kLowestCost = 0,  // same site first, then by site cost (the default)
  kRandom = 1,      // shuffle across sites
  kInSiteOnly = 2,  // targets outside the client's site are left out
};

// A folder's failback setting: its own, or the root's.
enum class Failback : uint8_t { kInherit = 0, kOn = 1, kOff = 2 };

struct Target {
  std::string server;  // display case, as given
  std::string share;   // share plus optional sub-path, `\` separated
  State state = State::kOnline;
  PriorityClass priority_class = PriorityClass::kSiteCostNormal;
  uint8_t priority_rank = 0;
  std::string site;  // empty: the site is not known

  std::string Unc() const { return "\\\\" + server + "\\" + share; }
  // The target's identity within a folder: its folded UNC path.
  std::string Key() const;
  bool operator==(const Target&) const = default;
};

struct Root {
  std::string host;  // display case; the key uses the canonical host
  std::string name;
  uint32_t ttl_seconds = kDefaultRootTtlSeconds;
  bool failback = false;
  OrderingMethod ordering = OrderingMethod::kLowestCost;
  std::string comment;
  State state = State::kOnline;
  std::vector<Target> targets;  // namespace servers

  std::string Path() const { return "\\\\" + host + "\\" + name; }
  bool operator==(const Root&) const = default;
};

struct Folder {
  std::string path;  // relative to the root, display case, `\` separated
  uint32_t ttl_seconds = kDefaultFolderTtlSeconds;
  Failback failback = Failback::kInherit;
  std::string comment;
  State state = State::kOnline;
  std::vector<Target> targets;

  bool operator==(const Folder&) const = default;
};

// The failback flag a client gets for a folder.
inline bool EffectiveFailback(const Root& root, const Folder& folder) {
  switch (folder.failback) {
    case Failback::kOn:
      return true;
    case Failback::kOff:
      return false;
    case Failback::kInherit:
      break;
  }
  return root.failback;
}

// Names as dfsutil prints and accepts them. Parse* accept the
// documented spellings case-insensitively and fail with kInvalidArgument
// listing what is accepted.
std::string_view ToString(State s);
std::string_view ToString(PriorityClass c);
std::string_view ToString(OrderingMethod m);
std::string_view ToString(Failback f);
Result<State> ParseState(std::string_view s);
// Accepts globalHigh|first, siteCostHigh|high, siteCostNormal|normal,
// siteCostLow|low, globalLow|last (also with `-` or `_` between words).
Result<PriorityClass> ParsePriorityClass(std::string_view s);
// Accepts lowestCost|cost|site, random, inSiteOnly|insite.
Result<OrderingMethod> ParseOrderingMethod(std::string_view s);
// Accepts on|off|inherit (and true/false, yes/no, 1/0).
Result<Failback> ParseFailback(std::string_view s);
Result<bool> ParseOnOff(std::string_view s);
Result<uint32_t> ParseTtl(std::string_view s);
Result<uint8_t> ParsePriorityRank(std::string_view s);
inline constexpr uint32_t kMaxSiteCost = 1000000;
Result<uint32_t> ParseSiteCost(std::string_view s);

}  // namespace dfs::ns
