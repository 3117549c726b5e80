// Namespace administration: the operations dfsutil offers, as validated
// changes against any NamespaceWriter (the LMDB store's write transaction
// in production, a NamespaceIndex in tests).
//
// Every function checks its arguments and the current state first and
// applies mutations only when the whole operation is valid, so a failed
// call leaves the writer as it was. Errors: kInvalidArgument /
// kLimitExceeded for bad input, kNotFound when a named object is missing,
// kAlreadyExists, kConflict when the change contradicts the namespace
// (a folder inside another folder, an alias whose names both hold roots).
// Thread-safety: as the writer passed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dfs/common/result.h"
#include "dfs/ns/model.h"
#include "dfs/ns/namespace.h"
#include "dfs/ns/path.h"

namespace dfs::ns {

// Where a namespace path points: a root, or a folder of that root.
struct Located {
  std::string root_key;
  Root root;
  std::optional<std::string> folder_key;
  std::optional<Folder> folder;
};

// Resolves `path` to an existing root (exactly `\\host\root`) or an
// existing folder. A missing root's error names roots of the same name
// under other hosts, which is how a NetBIOS/FQDN mix-up shows.
Result<Located> Locate(const NamespaceReader& reader, std::string_view path);
// Resolves the root of any namespace path (which may lie below it).
Result<Located> LocateRoot(const NamespaceReader& reader,
                           const NamespacePath& path);

struct TargetOptions {
  std::optional<State> state;
  std::optional<PriorityClass> priority_class;
  std::optional<uint8_t> priority_rank;
  std::optional<std::string> site;
};

struct RootOptions {
  std::optional<uint32_t> ttl_seconds;
  std::optional<std::string> comment;
};

Status AddRoot(NamespaceWriter& w, std::string_view path,
               const RootOptions& options = {});
Status RemoveRoot(NamespaceWriter& w, std::string_view path);

// Creates folder `path` with its first target.
Status AddLink(NamespaceWriter& w, std::string_view path,
               std::string_view target, const TargetOptions& options = {});
Status RemoveLink(NamespaceWriter& w, std::string_view path);

// Adds a target to a folder, or a namespace server to a root.
Status AddTarget(NamespaceWriter& w, std::string_view path,
                 std::string_view target, const TargetOptions& options = {});
// Removes one. A folder keeps at least one target: remove the folder
// instead (dfsutil link remove).
Status RemoveTarget(NamespaceWriter& w, std::string_view path,
                    std::string_view target);

Status SetTtl(NamespaceWriter& w, std::string_view path, uint32_t ttl_seconds);
// On a root only on/off are meaningful; kInherit is refused there.
Status SetFailback(NamespaceWriter& w, std::string_view path, Failback value);
// With `target`, the target's state; otherwise the root's or folder's.
Status SetState(NamespaceWriter& w, std::string_view path,
                std::optional<std::string_view> target, State state);
// Sets class and (when given) rank of a folder's or root's target.
Status SetPriority(NamespaceWriter& w, std::string_view path,
                   std::string_view target, PriorityClass priority_class,
                   std::optional<uint8_t> rank);
Status SetOrdering(NamespaceWriter& w, std::string_view root_path,
                   OrderingMethod method);
Status SetComment(NamespaceWriter& w, std::string_view path,
                  std::string_view comment);
Status SetSite(NamespaceWriter& w, std::string_view path,
               std::string_view target, std::string_view site);

// Checks a root or folder comment: at most kMaxCommentBytes of UTF-8
// without control characters (it is printed on one line).
Status ValidateComment(std::string_view comment);
// Checks a site name (letters, digits, '-', '_', '.'; empty clears).
Status ValidateSiteName(std::string_view site);

// Sites (for referral ordering): client subnets and the cost between two
// sites. `cidr` is IPv4 or IPv6 ("10.1.0.0/16"), stored canonical (host
// bits cleared); site names as ValidateSiteName; a cost is 0..1,000,000.
Status AddSubnet(NamespaceWriter& w, std::string_view cidr,
                 std::string_view site);
Status RemoveSubnet(NamespaceWriter& w, std::string_view cidr);
Status SetSiteCost(NamespaceWriter& w, std::string_view site_a,
                   std::string_view site_b, uint32_t cost);
Result<std::string> CanonicalCidr(std::string_view cidr);

// Declares that two host names (a NetBIOS name and an FQDN) name the same
// domain. The canonical name is the one that already holds roots, else
// `second` (by convention the FQDN: `alias add OW orcsweb.com`).
Status AddAlias(NamespaceWriter& w, std::string_view first,
                std::string_view second);
// Removes `name` as an alias. A canonical name with aliases cannot go.
Status RemoveAlias(NamespaceWriter& w, std::string_view name);

}  // namespace dfs::ns
