#include "dfs/referral/resolver.h"

#include <unicode/utf8.h>

#include <algorithm>

#include "dfs/common/error.h"

namespace dfs::referral {

size_t Utf16Length(std::string_view s) { return ns::Utf16Length(s); }

Resolver::Resolver(const ns::NamespaceIndex& index, const SiteTable& sites,
                   HealthFn healthy, uint64_t seed)
    : index_(index), sites_(sites), healthy_(std::move(healthy)), rng_(seed) {}

Result<Referral> Resolver::Resolve(std::string_view path,
                                   const Requester& client) {
  // MS-DFSC paths carry one leading backslash; the namespace parser wants
  // UNC. Prefix one and remember it, so PathConsumed counts the client's
  // own characters.
  const bool single = path.size() >= 2 && (path[0] == '\\' || path[0] == '/') &&
                      path[1] != '\\' && path[1] != '/';
  unc_.clear();
  if (single) unc_ += '\\';
  unc_.append(path);
  DFS_ASSIGN_OR_RETURN(auto match, index_.FindLongestPrefix(
                                       unc_, scratch_, ns::PathUse::kLookup));
  if (!match) {
    return Fail(Errc::kNotFound, "no namespace root for " + std::string(path));
  }
  const ns::Root& root = match->root->root;
  if (root.state != ns::State::kOnline) {
    return Fail(Errc::kNotFound,
                "namespace root " + root.Path() + " is offline");
  }
  Referral r;
  const std::vector<ns::Target>* targets = &root.targets;
  r.root_referral = match->folder == nullptr;
  r.ttl_seconds = root.ttl_seconds;
  r.failback = root.failback;
  if (match->folder != nullptr) {
    const ns::Folder& f = *match->folder;
    if (f.state != ns::State::kOnline) {
      return Fail(Errc::kNotFound, "folder " + f.path + " is offline");
    }
    targets = &f.targets;
    r.ttl_seconds = f.ttl_seconds;
    r.failback = ns::EffectiveFailback(root, f);
  }
  const size_t consumed = match->consumed_components;
  r.dfs_path = "\\" + std::string(scratch_.DisplayRange(0, consumed));
  const size_t input_end = scratch_.input_end[consumed - 1] - (single ? 1 : 0);
  r.path_consumed_bytes =
      static_cast<uint16_t>(2 * Utf16Length(path.substr(0, input_end)));

  std::optional<std::string> client_site;
  if (client.address) client_site = sites_.SiteOf(*client.address);
  std::optional<std::string_view> site_view;
  if (client_site) site_view = *client_site;
  for (const OrderedTarget& o : OrderTargets(*targets, root.ordering, site_view,
                                             sites_, healthy_, rng_)) {
    ReferralTarget t;
    t.path = "\\" + o.target->server + "\\" + o.target->share;
    t.set_boundary = o.set_boundary;
    t.healthy = o.healthy;
    t.priority_class = o.target->priority_class;
    t.priority_rank = o.target->priority_rank;
    t.site = o.target->site;
    r.targets.push_back(std::move(t));
  }
  // An interlink: every target is a path in a DFS namespace this server
  // knows, so the client must ask for a referral there.
  if (!r.root_referral && !r.targets.empty()) {
    r.interlink = std::all_of(
        r.targets.begin(), r.targets.end(), [&](const ReferralTarget& t) {
          auto m = index_.FindLongestPrefix("\\" + t.path, target_scratch_,
                                            ns::PathUse::kLookup);
          return m && m->has_value();
        });
  }
  return r;
}

}  // namespace dfs::referral
