// Inside the namespace store: its LMDB environment and tables, and
// TableView, the NamespaceWriter over one transaction that every Store
// operation (store.cc, change_log.cc, replica.cc) goes through. The
// layout is in namespace/FORMAT.md; the LMDB mechanics in dfs/lmdb/lmdb.h.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "dfs/lmdb/lmdb.h"
#include "dfs/ns/store.h"

namespace dfs::ns {

struct StoreTables {
  lmdb::Dbi meta = 0, roots = 0, folders = 0, aliases = 0, log = 0, sites = 0;
};

class Store::Impl {
 public:
  std::unique_ptr<lmdb::Env> env_;
  StoreTables tables_;
  std::filesystem::path dir_;
  StoreOptions options_;
};

// `host\root\folder`: a folder's key in the folders table.
std::string FolderDbKey(std::string_view root_key, std::string_view folder_key);
// A folders-table entry as the mutation that would have written it.
// Errors: kCorrupt.
Result<PutFolder> FolderFromDb(std::string_view key, std::string_view value);

// A NamespaceWriter over one transaction (which the caller owns).
// Read-only views refuse Apply; writable ones record every mutation for
// the change log.
class TableView final : public NamespaceWriter {
 public:
  TableView(lmdb::Txn& txn, const StoreTables& tables)
      : txn_(txn), tables_(tables) {}
  // A view that owns its (read) transaction: a consistent reader for as
  // long as it lives (Store::Snapshot).
  TableView(lmdb::Txn&& owned, const StoreTables& tables)
      : owned_(std::move(owned)), txn_(*owned_), tables_(tables) {}
  TableView(const TableView&) = delete;
  TableView& operator=(const TableView&) = delete;

  lmdb::Txn& txn() { return txn_; }
  const StoreTables& tables() const { return tables_; }

  Result<std::optional<std::string_view>> Get(lmdb::Dbi table,
                                              std::string_view key) const {
    return txn_.Get(table, key);
  }
  // Errors: kLimitExceeded (a key LMDB cannot hold, said in namespace
  // terms), the store's.
  Status Put(lmdb::Dbi table, std::string_view key, std::string_view value);
  Status Scan(
      lmdb::Dbi table, std::string_view prefix,
      const std::function<Result<bool>(std::string_view, std::string_view)>&
          visit) const {
    return txn_.Scan(table, prefix, visit);
  }

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
  uint64_t Serial() const override;

  Status Apply(const Mutation& mutation) override;
  size_t mutation_count() const { return mutation_count_; }
  bool too_big_to_log() const { return mutation_count_ > kMaxLoggedMutations; }
  std::vector<Mutation>& logged() { return logged_; }

 private:
  Status Write(const PutRoot& m);
  Status Write(const DeleteRoot& m);
  Status Write(const PutFolder& m);
  Status Write(const DeleteFolder& m);
  Status Write(const PutAlias& m);
  Status Write(const DeleteAlias& m);
  Status Write(const PutSubnet& m);
  Status Write(const DeleteSubnet& m);
  Status Write(const PutSiteCost& m);
  Status Write(const DeleteSiteCost& m);

  std::optional<lmdb::Txn> owned_;  // before txn_, which may refer to it
  lmdb::Txn& txn_;
  StoreTables tables_;
  size_t mutation_count_ = 0;
  std::vector<Mutation> logged_;
};

// Every record of the namespace as the mutations that make it, in an order
// that applies (aliases, roots, folders, subnets, site costs): one scan for
// loading an index and for a replica's snapshot.
Status ScanRecords(const TableView& view,
                   const std::function<Status(Mutation&&)>& visit);

// The change log (change_log.cc). Writes `entry` as the next log entry,
// moves the serial, trims the log to options.change_log_keep and commits
// `txn` (which ends whatever the outcome).
Status CommitEntry(const Store::Impl& impl, TableView& view,
                   const ChangeEntry& entry);
int64_t NowMillis(const StoreOptions& options);

}  // namespace dfs::ns
