// The storage seam of the namespace: readers, writers and the mutations
// that change a namespace.
//
// Every change to a namespace is a list of Mutations (physical: put or
// delete one record under its key). The LMDB store writes them in one
// transaction and logs them under a serial number; the in-memory
// NamespaceIndex applies the same list, so a server catches up with a store
// (or, later, a replica with its primary) by replaying the log.
//
// Keys are built from folded (case-insensitive) names only:
//   root key    = canonical-host "\" root          e.g. `contoso.com\webfarm`
//   folder key  = folded path below the root       e.g. `sites\site1`
// where the canonical host is the name an alias points to (or the host
// itself). Display case lives inside the records.
// Thread-safety: interfaces; see each implementation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/model.h"

namespace dfs::ns {

// `a\b`: root keys (host\root) and the store's folder keys
// (host\root\folder) are joined this way.
std::string JoinKeys(std::string_view a, std::string_view b);
std::string MakeRootKey(std::string_view canonical_host,
                        std::string_view folded_root);

struct PutRoot {
  std::string root_key;
  Root root;
  bool operator==(const PutRoot&) const = default;
};
// Deletes the root and every folder below it.
struct DeleteRoot {
  std::string root_key;
  bool operator==(const DeleteRoot&) const = default;
};
struct PutFolder {
  std::string root_key;
  std::string folder_key;
  Folder folder;
  bool operator==(const PutFolder&) const = default;
};
struct DeleteFolder {
  std::string root_key;
  std::string folder_key;
  bool operator==(const DeleteFolder&) const = default;
};
// `alias` (a folded host name) names the same domain as `canonical`.
struct PutAlias {
  std::string alias;
  std::string canonical;
  bool operator==(const PutAlias&) const = default;
};
struct DeleteAlias {
  std::string alias;
  bool operator==(const DeleteAlias&) const = default;
};

// Sites: client subnet `cidr` (canonical text, e.g. "10.1.0.0/16") is in
// `site`; going from site `a` to site `b` costs `cost` (folded names, a < b).
struct PutSubnet {
  std::string cidr;
  std::string site;
  bool operator==(const PutSubnet&) const = default;
};
struct DeleteSubnet {
  std::string cidr;
  bool operator==(const DeleteSubnet&) const = default;
};
struct PutSiteCost {
  std::string site_a, site_b;
  uint32_t cost = 1;
  bool operator==(const PutSiteCost&) const = default;
};
struct DeleteSiteCost {
  std::string site_a, site_b;
  bool operator==(const DeleteSiteCost&) const = default;
};

using Mutation = std::variant<PutRoot, DeleteRoot, PutFolder, DeleteFolder,
                              PutAlias, DeleteAlias, PutSubnet, DeleteSubnet,
                              PutSiteCost, DeleteSiteCost>;

struct RootEntry {
  std::string key;
  Root root;
};

// Read access to one consistent view of a namespace.
class NamespaceReader {
 public:
  virtual ~NamespaceReader() = default;

  virtual Result<std::optional<Root>> GetRoot(
      std::string_view root_key) const = 0;
  virtual Result<std::optional<Folder>> GetFolder(
      std::string_view root_key, std::string_view folder_key) const = 0;
  // Every folder of the root, in key order.
  virtual Result<std::vector<Folder>> ListFolders(
      std::string_view root_key) const = 0;
  // Whether some folder of the root lies strictly below `folder_key`.
  virtual Result<bool> HasFolderBelow(std::string_view root_key,
                                      std::string_view folder_key) const = 0;
  virtual Result<std::vector<RootEntry>> ListRoots() const = 0;
  // The canonical name for a folded host: the alias target, or the host.
  virtual Result<std::string> CanonicalHost(
      std::string_view folded_host) const = 0;
  // (alias, canonical) pairs, sorted by alias.
  virtual Result<std::vector<std::pair<std::string, std::string>>> ListAliases()
      const = 0;
  // (cidr, site) pairs sorted by cidr, and site costs sorted by sites.
  virtual Result<std::vector<PutSubnet>> ListSubnets() const = 0;
  virtual Result<std::vector<PutSiteCost>> ListSiteCosts() const = 0;
  // The serial number of the last change this view contains.
  virtual uint64_t Serial() const = 0;
};

// A reader that can also change the namespace. Changes made through Apply
// are visible to this object's own reads at once.
class NamespaceWriter : public NamespaceReader {
 public:
  virtual Status Apply(const Mutation& mutation) = 0;
};

}  // namespace dfs::ns
