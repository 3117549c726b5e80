// NamespaceIndex: the whole namespace in memory, built for the hot path of
// the system: "which root and folder does this path fall in?".
//
// Lookup folds the path once, maps the host through the alias table, finds
// the root in a hash map, then probes the root's folder hash map with the
// path's prefixes from the shortest up, stopping at the first folder or at
// the first prefix no folder lies below (folders never nest, so at most one
// prefix is a folder). No allocation happens once the caller's scratch has
// grown.
//
// It is also a complete NamespaceWriter, so the admin logic runs against it
// in tests exactly as against the LMDB store, and a server applies the
// store's change log to it (Store::CatchUp).
// Thread-safety: none. Concurrent const calls are safe when nothing calls
// Apply/Clear/SetSerial meanwhile; the caller serialises writers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "dfs/ns/folder_table.h"
#include "dfs/ns/namespace.h"
#include "dfs/ns/path.h"

namespace dfs::ns {

struct StringHash {
  using is_transparent = void;
  // Deliberately not noexcept: libstdc++ then caches each node's hash, so
  // a probe compares hashes before keys and never rehashes a neighbour's
  // key while walking a bucket (a cache miss per node at 1M folders).
  size_t operator()(std::string_view s) const;
};
template <typename V>
using StringMap =
    std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class NamespaceIndex final : public NamespaceWriter {
 public:
  struct Match {
    const RootEntry* root = nullptr;
    // Null when the path is the root itself or lies in the root outside
    // every folder: the answer is then a root referral.
    const Folder* folder = nullptr;
    std::string_view folder_key;
    // Components of the path the match consumed: 2 (host, root) plus the
    // folder's depth.
    size_t consumed_components = 0;
  };

  // Finds the root and folder `path` falls in. `scratch` receives the
  // normalised path (its display form gives the consumed prefix).
  // Returns nullopt when no root matches; errors are the path's
  // (kInvalidArgument, kLimitExceeded). The pointers in Match stay valid
  // until the next Apply or Clear.
  // With PathUse::kLookup (referrals), only the part of the path that can
  // name a folder is parsed (see NormalizeUnc).
  Result<std::optional<Match>> FindLongestPrefix(
      std::string_view path, NormalizedPath& scratch,
      PathUse use = PathUse::kName) const;

  // Every distinct target server (namespace servers and folder targets),
  // in display case, once each (compared case-insensitively).
  std::vector<std::string> TargetServers() const;

  // Every record as the Put mutation that makes it (aliases, roots, each
  // root's folders, subnets, site costs), in no particular order: what a
  // copy elsewhere (etcd, a snapshot) is built from.
  void ForEachRecord(const std::function<void(Mutation&&)>& visit) const;

  size_t root_count() const { return root_count_; }
  size_t folder_count() const { return folder_count_; }
  void Clear();
  void SetSerial(uint64_t serial) { serial_ = serial; }

  // NamespaceReader.
  Result<std::optional<Root>> GetRoot(std::string_view root_key) const override;
  Result<std::optional<Folder>> GetFolder(
      std::string_view root_key, std::string_view folder_key) const override;
  Result<std::vector<Folder>> ListFolders(
      std::string_view root_key) const override;
  Result<bool> HasFolderBelow(std::string_view root_key,
                              std::string_view folder_key) const override;
  Result<std::vector<RootEntry>> ListRoots() const override;
  Result<std::string> CanonicalHost(
      std::string_view folded_host) const override;
  Result<std::vector<std::pair<std::string, std::string>>> ListAliases()
      const override;
  Result<std::vector<PutSubnet>> ListSubnets() const override;
  Result<std::vector<PutSiteCost>> ListSiteCosts() const override;
  uint64_t Serial() const override { return serial_; }

  // NamespaceWriter.
  Status Apply(const Mutation& mutation) override;

 private:
  struct RootSlot {
    RootEntry entry;
    FolderTable folders;
    // For every proper prefix of a folder key, how many folders lie below
    // it: answers HasFolderBelow without a scan.
    StringMap<uint32_t> prefix_counts;
    std::array<uint32_t, kMaxFolderDepth + 1> depth_counts{};
    size_t max_depth = 0;
  };
  struct HostSlot {
    StringMap<RootSlot> roots;  // keyed by folded root name
  };

  const RootSlot* FindRoot(std::string_view root_key) const;
  RootSlot* FindRoot(std::string_view root_key);
  void AddFolderShape(RootSlot& slot, std::string_view folder_key, int delta);

  StringMap<HostSlot> hosts_;
  StringMap<std::string> aliases_;
  std::map<std::string, std::string> subnets_;
  std::map<std::pair<std::string, std::string>, uint32_t> site_costs_;
  size_t root_count_ = 0;
  size_t folder_count_ = 0;
  uint64_t serial_ = 0;
};

}  // namespace dfs::ns
