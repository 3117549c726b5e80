// dfsd's status page (served on its metrics address, `/`) and the JSON it
// is built from, without sockets: what an operator looks at instead of
// `dfsutil show` and Prometheus text.
//   GET /                the page: plain HTML and JavaScript, no external
//                        asset, refreshing itself every 2 s (?refresh=MS)
//   GET /api/namespace   roots, folders and their targets in the order a
//                        default-site client is given, with priority
//                        class, rank, state and probe health; a page of
//                        folders at a time (?offset=&limit=&filter=: a
//                        large namespace is never rendered whole)
//   GET /api/health      every probed target server: up or down
//   GET /api/referrals   referrals answered per root or folder since start
//                        (the page turns two readings into a rate)
//   GET /api/replication the dfsrd members dfsd polls (--dfsrd): per
//                        replicated folder, each member's links, backlog
//                        both ways, oldest pending change, conflicts and
//                        bytes saved (referral/replication_status.h)
// Nothing here changes anything: every answer is a GET of a reading.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "dfs/ns/index.h"
#include "dfs/referral/health.h"
#include "dfs/referral/sites.h"

namespace dfs::referral {

// Which folders /api/namespace shows: those whose path holds `filter`
// (any case), from the `offset`-th of them, at most `limit`.
struct NamespacePage {
  size_t offset = 0;
  size_t limit = 500;
  std::string filter;
};
inline constexpr size_t kMaxStatusPageFolders = 5000;
inline constexpr size_t kMaxStatusFilterBytes = 256;
// The page a request's query asks for (`offset`, `limit`, `filter`,
// percent-encoded; anything else ignored). A number out of range is
// clamped (limit to 1..kMaxStatusPageFolders); a filter longer than
// kMaxStatusFilterBytes is cut there.
NamespacePage ParseNamespacePage(std::string_view query);

std::string NamespaceJson(const ns::NamespaceIndex& index,
                          const SiteTable& sites, const HealthTable& health,
                          const NamespacePage& page = {});
std::string HealthJson(const HealthTable& health);
// `counts`: referrals per `\\host\\root[\\folder]` (folded).
std::string ReferralsJson(const std::map<std::string, uint64_t>& counts,
                          int64_t unix_millis);
std::string_view StatusPageHtml();

// What the status page's routes need, read when one is asked for.
struct StatusSources {
  std::function<std::string(const NamespacePage&)> namespace_json;
  std::function<std::string()> health_json, referrals_json, replication_json;
};
// The whole HTTP response to `request` when it asks for the page or its
// API; nothing for any other path (the caller answers it). When `allowed`
// is false (the address is not loopback) the page is off: 403, saying so.
std::optional<std::string> StatusHttpResponse(std::string_view request,
                                              const StatusSources& sources,
                                              bool allowed);

}  // namespace dfs::referral
