#include "store_tables.h"

#include <variant>

#include "dfs/ns/path.h"

namespace dfs::ns {

std::string FolderDbKey(std::string_view root_key,
                        std::string_view folder_key) {
  return JoinKeys(root_key, folder_key);
}

Result<PutFolder> FolderFromDb(std::string_view k, std::string_view v) {
  size_t first = k.find('\\');
  size_t second = first == k.npos ? k.npos : k.find('\\', first + 1);
  if (second == k.npos) {
    return Fail(Errc::kCorrupt, "folder key without a root: " + std::string(k));
  }
  DFS_ASSIGN_OR_RETURN(Folder folder, DecodeFolder(v));
  return PutFolder{std::string(k.substr(0, second)),
                   std::string(k.substr(second + 1)), std::move(folder)};
}

namespace {

std::string SubnetKey(std::string_view cidr) {
  return std::string("s\0", 2) + std::string(cidr);
}
std::string CostKey(std::string_view a, std::string_view b) {
  return std::string("c\0", 2) + std::string(a) + std::string(1, '\0') +
         std::string(b);
}

}  // namespace

Result<std::optional<Root>> TableView::GetRoot(
    std::string_view root_key) const {
  DFS_ASSIGN_OR_RETURN(auto bytes, Get(tables_.roots, root_key));
  if (!bytes) return std::optional<Root>();
  DFS_ASSIGN_OR_RETURN(Root root, DecodeRoot(*bytes));
  return std::optional<Root>(std::move(root));
}

Result<std::optional<Folder>> TableView::GetFolder(
    std::string_view root_key, std::string_view folder_key) const {
  DFS_ASSIGN_OR_RETURN(auto bytes,
                       Get(tables_.folders, FolderDbKey(root_key, folder_key)));
  if (!bytes) return std::optional<Folder>();
  DFS_ASSIGN_OR_RETURN(Folder folder, DecodeFolder(*bytes));
  return std::optional<Folder>(std::move(folder));
}

Result<std::vector<Folder>> TableView::ListFolders(
    std::string_view root_key) const {
  std::vector<Folder> out;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.folders, std::string(root_key) + "\\",
           [&](std::string_view, std::string_view v) -> Result<bool> {
             DFS_ASSIGN_OR_RETURN(Folder f, DecodeFolder(v));
             out.push_back(std::move(f));
             return true;
           }));
  return out;
}

Result<bool> TableView::HasFolderBelow(std::string_view root_key,
                                       std::string_view folder_key) const {
  bool found = false;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.folders, FolderDbKey(root_key, folder_key) + "\\",
           [&](std::string_view, std::string_view) -> Result<bool> {
             found = true;
             return false;
           }));
  return found;
}

Result<std::vector<RootEntry>> TableView::ListRoots() const {
  std::vector<RootEntry> out;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.roots, "",
           [&](std::string_view k, std::string_view v) -> Result<bool> {
             DFS_ASSIGN_OR_RETURN(Root r, DecodeRoot(v));
             out.push_back(RootEntry{std::string(k), std::move(r)});
             return true;
           }));
  return out;
}

Result<std::string> TableView::CanonicalHost(
    std::string_view folded_host) const {
  DFS_ASSIGN_OR_RETURN(auto canonical, Get(tables_.aliases, folded_host));
  return canonical ? std::string(*canonical) : std::string(folded_host);
}

Result<std::vector<std::pair<std::string, std::string>>>
TableView::ListAliases() const {
  std::vector<std::pair<std::string, std::string>> out;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.aliases, "",
           [&](std::string_view k, std::string_view v) -> Result<bool> {
             out.emplace_back(std::string(k), std::string(v));
             return true;
           }));
  return out;
}

Result<std::vector<PutSubnet>> TableView::ListSubnets() const {
  std::vector<PutSubnet> out;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.sites, std::string_view("s\0", 2),
           [&](std::string_view k, std::string_view v) -> Result<bool> {
             out.push_back({std::string(k.substr(2)), std::string(v)});
             return true;
           }));
  return out;
}

Result<std::vector<PutSiteCost>> TableView::ListSiteCosts() const {
  std::vector<PutSiteCost> out;
  DFS_RETURN_IF_ERROR(
      Scan(tables_.sites, std::string_view("c\0", 2),
           [&](std::string_view k, std::string_view v) -> Result<bool> {
             std::string_view pair = k.substr(2);
             const size_t sep = pair.find('\0');
             ByteReader r(v);
             auto cost = r.U32("site cost");
             if (sep == pair.npos || !cost) {
               return Fail(Errc::kCorrupt, "bad site cost record");
             }
             out.push_back({std::string(pair.substr(0, sep)),
                            std::string(pair.substr(sep + 1)), *cost});
             return true;
           }));
  return out;
}

uint64_t TableView::Serial() const {
  auto bytes = Get(tables_.meta, "serial");
  if (!bytes || !*bytes) return 0;
  auto serial = DecodeBigEndian64(**bytes);
  return serial ? *serial : 0;
}

Status TableView::Put(lmdb::Dbi dbi, std::string_view key,
                      std::string_view value) {
  if (key.empty() || key.size() > lmdb::kMaxKeyBytes) {
    return Fail(Errc::kLimitExceeded,
                "the key '" + std::string(key.substr(0, 80)) + "' is " +
                    std::to_string(key.size()) +
                    " bytes; host, root and folder path together may take "
                    "at most " +
                    std::to_string(lmdb::kMaxKeyBytes));
  }
  return txn_.Put(dbi, key, value);
}

Status TableView::Apply(const Mutation& mutation) {
  if (!txn_.writable()) {
    return Fail(Errc::kUnsupported, "a snapshot is read-only");
  }
  DFS_RETURN_IF_ERROR(
      std::visit([&](const auto& m) { return Write(m); }, mutation));
  ++mutation_count_;
  if (mutation_count_ <= kMaxLoggedMutations) {
    logged_.push_back(mutation);
  } else {
    logged_.clear();  // too big to log: followers reload instead
  }
  return Status::Ok();
}

Status TableView::Write(const PutRoot& m) {
  if (m.root_key.find('\\') == std::string::npos) {
    return Fail(Errc::kCorrupt, "root key without a separator");
  }
  return Put(tables_.roots, m.root_key, EncodeRoot(m.root));
}
Status TableView::Write(const DeleteRoot& m) {
  DFS_RETURN_IF_ERROR(txn_.Delete(tables_.roots, m.root_key));
  return txn_.DeletePrefix(tables_.folders, m.root_key + "\\");
}
Status TableView::Write(const PutFolder& m) {
  DFS_ASSIGN_OR_RETURN(auto root, Get(tables_.roots, m.root_key));
  if (!root) {
    return Fail(Errc::kNotFound, "folder put below missing root " + m.root_key);
  }
  return Put(tables_.folders, FolderDbKey(m.root_key, m.folder_key),
             EncodeFolder(m.folder));
}
Status TableView::Write(const DeleteFolder& m) {
  return txn_.Delete(tables_.folders, FolderDbKey(m.root_key, m.folder_key));
}
Status TableView::Write(const PutAlias& m) {
  return Put(tables_.aliases, m.alias, m.canonical);
}
Status TableView::Write(const DeleteAlias& m) {
  return txn_.Delete(tables_.aliases, m.alias);
}
Status TableView::Write(const PutSubnet& m) {
  return Put(tables_.sites, SubnetKey(m.cidr), m.site);
}
Status TableView::Write(const DeleteSubnet& m) {
  return txn_.Delete(tables_.sites, SubnetKey(m.cidr));
}
Status TableView::Write(const PutSiteCost& m) {
  ByteWriter w;
  w.U32(m.cost);
  return Put(tables_.sites, CostKey(m.site_a, m.site_b), w.data());
}
Status TableView::Write(const DeleteSiteCost& m) {
  return txn_.Delete(tables_.sites, CostKey(m.site_a, m.site_b));
}

}  // namespace dfs::ns
