#include "dfs/ns/index.h"

#include <xxhash.h>

#include <algorithm>

#include "dfs/common/error.h"

namespace dfs::ns {
namespace {

// Splits a root key `host\root` at its only separator.
std::pair<std::string_view, std::string_view> SplitRootKey(
    std::string_view key) {
  size_t sep = key.find('\\');
  if (sep == key.npos) return {key, {}};
  return {key.substr(0, sep), key.substr(sep + 1)};
}

size_t Depth(std::string_view folder_key) {
  return 1 + std::count(folder_key.begin(), folder_key.end(), '\\');
}

}  // namespace

size_t StringHash::operator()(std::string_view s) const {
  return XXH3_64bits(s.data(), s.size());
}

std::string JoinKeys(std::string_view a, std::string_view b) {
  std::string key;
  key.reserve(a.size() + 1 + b.size());
  key.append(a).append(1, '\\').append(b);
  return key;
}

std::string MakeRootKey(std::string_view canonical_host,
                        std::string_view folded_root) {
  return JoinKeys(canonical_host, folded_root);
}

const NamespaceIndex::RootSlot* NamespaceIndex::FindRoot(
    std::string_view root_key) const {
  auto [host, name] = SplitRootKey(root_key);
  auto h = hosts_.find(host);
  if (h == hosts_.end()) return nullptr;
  auto r = h->second.roots.find(name);
  return r == h->second.roots.end() ? nullptr : &r->second;
}

NamespaceIndex::RootSlot* NamespaceIndex::FindRoot(std::string_view root_key) {
  return const_cast<RootSlot*>(
      static_cast<const NamespaceIndex*>(this)->FindRoot(root_key));
}

Result<std::optional<NamespaceIndex::Match>> NamespaceIndex::FindLongestPrefix(
    std::string_view path, NormalizedPath& p, PathUse use) const {
  DFS_RETURN_IF_ERROR(NormalizeUnc(path, 2, p, use));
  std::string_view host = p.Folded(0);
  if (!aliases_.empty()) {
    auto a = aliases_.find(host);
    if (a != aliases_.end()) host = a->second;
  }
  auto h = hosts_.find(host);
  if (h == hosts_.end()) return std::optional<Match>();
  auto r = h->second.roots.find(p.Folded(1));
  if (r == h->second.roots.end()) return std::optional<Match>();
  const RootSlot& slot = r->second;

  Match m;
  m.root = &slot.entry;
  m.consumed_components = 2;
  // Shortest prefix first: folders never nest, so a prefix that is a
  // folder is the answer, and a prefix that is neither a folder nor above
  // one ends the search. A flat folder costs one probe of the big map; a
  // miss costs one more probe of the small map of interior prefixes.
  const size_t deepest = std::min(p.count - 2, slot.max_depth);
  for (size_t depth = 1; depth <= deepest; ++depth) {
    std::string_view prefix = p.FoldedRange(2, 2 + depth);
    if (const FolderTable::Entry* f = slot.folders.Find(prefix)) {
      m.folder = &f->folder;
      m.folder_key = f->key;
      m.consumed_components = 2 + depth;
      break;
    }
    if (slot.prefix_counts.empty() || !slot.prefix_counts.contains(prefix)) {
      break;
    }
  }
  return std::optional<Match>(m);
}

std::vector<std::string> NamespaceIndex::TargetServers() const {
  StringMap<bool> seen;
  std::vector<std::string> out;
  auto add = [&](const std::vector<Target>& targets) {
    for (const auto& t : targets) {
      if (seen.emplace(FoldCase(t.server), true).second)
        out.push_back(t.server);
    }
  };
  for (const auto& [host, h] : hosts_) {
    for (const auto& [name, slot] : h.roots) {
      add(slot.entry.root.targets);
      for (const auto& e : slot.folders.entries()) add(e.folder.targets);
    }
  }
  return out;
}

Result<std::vector<PutSubnet>> NamespaceIndex::ListSubnets() const {
  std::vector<PutSubnet> out;
  for (const auto& [cidr, site] : subnets_) out.push_back({cidr, site});
  return out;
}

Result<std::vector<PutSiteCost>> NamespaceIndex::ListSiteCosts() const {
  std::vector<PutSiteCost> out;
  for (const auto& [sites, cost] : site_costs_)
    out.push_back({sites.first, sites.second, cost});
  return out;
}

void NamespaceIndex::Clear() {
  hosts_.clear();
  aliases_.clear();
  subnets_.clear();
  site_costs_.clear();
  root_count_ = folder_count_ = 0;
  serial_ = 0;
}

void NamespaceIndex::AddFolderShape(RootSlot& slot, std::string_view folder_key,
                                    int delta) {
  size_t depth = Depth(folder_key);
  slot.depth_counts[std::min(depth, kMaxFolderDepth)] += delta;
  if (delta > 0) {
    slot.max_depth = std::max(slot.max_depth, depth);
  } else {
    while (slot.max_depth > 0 && slot.depth_counts[slot.max_depth] == 0) {
      --slot.max_depth;
    }
  }
  for (size_t sep = folder_key.find('\\'); sep != folder_key.npos;
       sep = folder_key.find('\\', sep + 1)) {
    std::string_view prefix = folder_key.substr(0, sep);
    auto it = slot.prefix_counts.find(prefix);
    if (delta > 0) {
      if (it == slot.prefix_counts.end()) {
        slot.prefix_counts.emplace(std::string(prefix), 1);
      } else {
        ++it->second;
      }
    } else if (it != slot.prefix_counts.end() && --it->second == 0) {
      slot.prefix_counts.erase(it);
    }
  }
}

Status NamespaceIndex::Apply(const Mutation& mutation) {
  if (const auto* m = std::get_if<PutRoot>(&mutation)) {
    auto [host, name] = SplitRootKey(m->root_key);
    auto& roots = hosts_[std::string(host)].roots;
    auto it = roots.find(name);
    if (it == roots.end()) {
      it = roots.emplace(std::string(name), RootSlot{}).first;
      ++root_count_;
    }
    it->second.entry.key = m->root_key;
    it->second.entry.root = m->root;
    return Status::Ok();
  }
  if (const auto* m = std::get_if<DeleteRoot>(&mutation)) {
    auto [host, name] = SplitRootKey(m->root_key);
    auto h = hosts_.find(host);
    if (h == hosts_.end()) return Status::Ok();
    auto r = h->second.roots.find(name);
    if (r == h->second.roots.end()) return Status::Ok();
    folder_count_ -= r->second.folders.size();
    --root_count_;
    h->second.roots.erase(r);
    if (h->second.roots.empty()) hosts_.erase(h);
    return Status::Ok();
  }
  if (const auto* m = std::get_if<PutFolder>(&mutation)) {
    // Mutations may come from another server: keep the depth bookkeeping
    // within its bounds whatever the key says.
    if (m->folder_key.empty() || Depth(m->folder_key) > kMaxFolderDepth) {
      return Fail(Errc::kCorrupt,
                  "folder key '" + m->folder_key + "' is empty or too deep");
    }
    RootSlot* slot = FindRoot(m->root_key);
    if (slot == nullptr) {
      return Fail(Errc::kCorrupt, "folder " + m->folder_key +
                                      " is put below missing root " +
                                      m->root_key);
    }
    if (slot->folders.Upsert(m->folder_key, m->folder)) {
      ++folder_count_;
      AddFolderShape(*slot, m->folder_key, +1);
    }
    return Status::Ok();
  }
  if (const auto* m = std::get_if<DeleteFolder>(&mutation)) {
    RootSlot* slot = FindRoot(m->root_key);
    if (slot == nullptr) return Status::Ok();
    if (!slot->folders.Erase(m->folder_key)) return Status::Ok();
    --folder_count_;
    AddFolderShape(*slot, m->folder_key, -1);
    return Status::Ok();
  }
  if (const auto* m = std::get_if<PutAlias>(&mutation)) {
    aliases_[m->alias] = m->canonical;
    return Status::Ok();
  }
  if (const auto* m = std::get_if<PutSubnet>(&mutation)) {
    subnets_[m->cidr] = m->site;
    return Status::Ok();
  }
  if (const auto* m = std::get_if<DeleteSubnet>(&mutation)) {
    subnets_.erase(m->cidr);
    return Status::Ok();
  }
  if (const auto* m = std::get_if<PutSiteCost>(&mutation)) {
    site_costs_[{m->site_a, m->site_b}] = m->cost;
    return Status::Ok();
  }
  if (const auto* m = std::get_if<DeleteSiteCost>(&mutation)) {
    site_costs_.erase({m->site_a, m->site_b});
    return Status::Ok();
  }
  if (const auto* m = std::get_if<DeleteAlias>(&mutation)) {
    auto it = aliases_.find(m->alias);
    if (it != aliases_.end()) aliases_.erase(it);
    return Status::Ok();
  }
  return Status::Ok();
}

Result<std::optional<Root>> NamespaceIndex::GetRoot(
    std::string_view root_key) const {
  const RootSlot* slot = FindRoot(root_key);
  if (slot == nullptr) return std::optional<Root>();
  return std::optional<Root>(slot->entry.root);
}

Result<std::optional<Folder>> NamespaceIndex::GetFolder(
    std::string_view root_key, std::string_view folder_key) const {
  const RootSlot* slot = FindRoot(root_key);
  if (slot == nullptr) return std::optional<Folder>();
  const FolderTable::Entry* entry = slot->folders.Find(folder_key);
  if (entry == nullptr) return std::optional<Folder>();
  return std::optional<Folder>(entry->folder);
}

Result<std::vector<Folder>> NamespaceIndex::ListFolders(
    std::string_view root_key) const {
  std::vector<Folder> out;
  const RootSlot* slot = FindRoot(root_key);
  if (slot == nullptr) return out;
  std::vector<const FolderTable::Entry*> entries;
  entries.reserve(slot->folders.size());
  for (const auto& e : slot->folders.entries()) entries.push_back(&e);
  // Same order as the LMDB store: byte order of the folded keys.
  std::sort(entries.begin(), entries.end(),
            [](auto* a, auto* b) { return a->key < b->key; });
  out.reserve(entries.size());
  for (auto* e : entries) out.push_back(e->folder);
  return out;
}

Result<bool> NamespaceIndex::HasFolderBelow(std::string_view root_key,
                                            std::string_view folder_key) const {
  const RootSlot* slot = FindRoot(root_key);
  return slot != nullptr && slot->prefix_counts.contains(folder_key);
}

void NamespaceIndex::ForEachRecord(
    const std::function<void(Mutation&&)>& visit) const {
  for (const auto& [alias, canonical] : aliases_)
    visit(PutAlias{alias, canonical});
  for (const auto& [host, h] : hosts_) {
    for (const auto& [name, slot] : h.roots) {
      visit(PutRoot{slot.entry.key, slot.entry.root});
      for (const auto& e : slot.folders.entries())
        visit(PutFolder{slot.entry.key, std::string(e.key), e.folder});
    }
  }
  for (const auto& [cidr, site] : subnets_) visit(PutSubnet{cidr, site});
  for (const auto& [sites, cost] : site_costs_)
    visit(PutSiteCost{sites.first, sites.second, cost});
}

Result<std::vector<RootEntry>> NamespaceIndex::ListRoots() const {
  std::vector<RootEntry> out;
  for (const auto& [host, h] : hosts_) {
    for (const auto& [name, slot] : h.roots) out.push_back(slot.entry);
  }
  std::sort(out.begin(), out.end(), [](const RootEntry& a, const RootEntry& b) {
    return a.key < b.key;
  });
  return out;
}

Result<std::string> NamespaceIndex::CanonicalHost(
    std::string_view folded_host) const {
  auto it = aliases_.find(folded_host);
  return it == aliases_.end() ? std::string(folded_host) : it->second;
}

Result<std::vector<std::pair<std::string, std::string>>>
NamespaceIndex::ListAliases() const {
  std::vector<std::pair<std::string, std::string>> out(aliases_.begin(),
                                                       aliases_.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace dfs::ns
