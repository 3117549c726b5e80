// What a Samba msdfs root should hold for one namespace root, so that any
// SMB client (Windows, macOS, Linux cifs) follows our namespace through a
// real SMB server: one symbolic link per folder, `msdfs:srv\share,srv2\share2`,
// which Samba answers as an MS-DFSC referral with the targets in the
// link's order (smb.conf: "msdfs root"). Pure: the files are written by
// referral_net's SyncMsdfsDirectory.
//
// The order is the one dfsd answers a client in the default site (no
// client site known): priority classes and ranks, offline targets left
// out, targets whose server fails its probe moved last. Equal ranks are
// shuffled with a seed taken from the folder's key, so a link is
// rewritten only when the namespace or health changes, not at every sync.
// What Samba cannot carry: the folder's TTL (Samba answers a fixed one),
// target sets (V4 TargetSetBoundary), per-client-site ordering.
// Thread-safety: pure functions.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/index.h"
#include "dfs/referral/ordering.h"
#include "dfs/referral/sites.h"

namespace dfs::referral {

struct MsdfsLink {
  // Below the msdfs root, '/'-separated, in the folder's display case.
  std::string path;
  std::string target;  // "msdfs:server\share[\path][,server\share...]"
  bool operator==(const MsdfsLink&) const = default;
};

struct MsdfsLinks {
  std::vector<MsdfsLink> links;
  // Folders left without a link (offline, no online target, a name Samba
  // cannot carry), with why, for the log.
  std::vector<std::string> skipped;
};

// The links for the namespace root `root_path` (`\\host\root`).
// Errors: the root's (kNotFound, kInvalidArgument).
Result<MsdfsLinks> MsdfsLinksFor(const ns::NamespaceIndex& index,
                                 std::string_view root_path,
                                 const SiteTable& sites,
                                 const HealthFn& healthy);

// The smb.conf share that serves `dir` as the msdfs root `share`.
std::string SmbConfShare(std::string_view share,
                         const std::filesystem::path& dir);

}  // namespace dfs::referral
