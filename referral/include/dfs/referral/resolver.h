// The referral engine: "where does this path live?" for one client.
//
// Given a path, the namespace (a NamespaceIndex kept current by the
// server) and who is asking, answers with the part of the path consumed,
// the ordered targets, the TTL, the failback flag and whether this is a
// root referral (the root's namespace servers) or a folder referral (the
// folder's targets). Pure: the health view and the random seed are
// injected, so tests are deterministic.
// Thread-safety: Resolve is const but uses the internal random engine;
// use one Resolver per thread (they are cheap) or serialise calls.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/index.h"
#include "dfs/referral/ordering.h"
#include "dfs/referral/sites.h"

namespace dfs::referral {

struct ReferralTarget {
  std::string path;  // `\server\share[\path]` (one leading backslash)
  bool set_boundary = false;
  bool healthy = true;
  ns::PriorityClass priority_class = ns::PriorityClass::kSiteCostNormal;
  uint8_t priority_rank = 0;
  std::string site;
};

struct Referral {
  bool root_referral = false;  // targets are namespace servers
  // The DFS path the referral is for, `\host\root[\folder]`, in the
  // client's spelling, and its length in UTF-16 bytes of the request path
  // (MS-DFSC PathConsumed).
  std::string dfs_path;
  uint16_t path_consumed_bytes = 0;
  uint32_t ttl_seconds = 0;
  bool failback = false;
  // A folder whose every target is itself a DFS namespace (an interlink):
  // its targets answer referrals (MS-DFSC ReferralServers).
  bool interlink = false;
  // In the server's order. Empty when nothing online is left to refer to
  // (every target offline, or none in the client's site with in-site-only
  // ordering): MS-DFSC answers that with success and zero entries.
  std::vector<ReferralTarget> targets;
};

// Who asks for a referral (its address decides its site). Not the web
// node's cache engine, which is client::Client.
struct Requester {
  std::optional<IpAddress> address;
};

class Resolver {
 public:
  // `index`, `sites` and `healthy` must outlive the resolver.
  Resolver(const ns::NamespaceIndex& index, const SiteTable& sites,
           HealthFn healthy, uint64_t seed);

  // `path` is a DFS path with one or two leading separators
  // (`\contoso\webfarm\Site1\a.html`, as MS-DFSC sends it, or UNC).
  // Only the part of `path` that can name a folder is parsed: the rest is
  // the target server's business (names ending in `.` or a space, long
  // names) and never makes the request fail.
  // Errors: kInvalidArgument (a bad host or root name), kNotFound (no such
  // root, or the root or folder is offline).
  Result<Referral> Resolve(std::string_view path, const Requester& client);

 private:
  const ns::NamespaceIndex& index_;
  const SiteTable& sites_;
  HealthFn healthy_;
  std::mt19937_64 rng_;
  ns::NormalizedPath scratch_, target_scratch_;
  std::string unc_;
};

// UTF-16 code units in valid UTF-8 `s`.
size_t Utf16Length(std::string_view s);

}  // namespace dfs::referral
