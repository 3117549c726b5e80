#include "dfs/ns/store.h"

#include <functional>
#include <set>

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"
#include "store_tables.h"

namespace dfs::ns {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFormatName = "dfs-namespace-store";
constexpr const char* kDamageHint =
    "check it with 'dfsutil store verify' and restore it from a backup or a "
    "replica";

// Opens (or creates) the tables and checks the schema.
Status InitSchema(Store::Impl& impl, bool create) {
  const std::string where = impl.dir_.string();
  DFS_ASSIGN_OR_RETURN(
      lmdb::Txn txn, create ? impl.env_->BeginWrite() : impl.env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto meta, txn.OpenTable("meta", /*create=*/false));
  bool fresh = false;
  if (!meta) {
    // Only an empty environment may become a store: anything else belongs
    // to somebody else.
    DFS_ASSIGN_OR_RETURN(uint64_t entries, txn.MainTableEntries());
    if (!create || entries != 0) {
      return Fail(Errc::kCorrupt, where +
                                      " holds an LMDB database that is not a "
                                      "dfs namespace store");
    }
    DFS_ASSIGN_OR_RETURN(meta, txn.OpenTable("meta", /*create=*/true));
    fresh = true;
  }
  impl.tables_.meta = *meta;
  if (fresh) {
    ByteWriter schema;
    schema.U32(kStoreSchemaVersion);
    DFS_RETURN_IF_ERROR(txn.Put(*meta, "format", kFormatName));
    DFS_RETURN_IF_ERROR(txn.Put(*meta, "schema", schema.data()));
    DFS_RETURN_IF_ERROR(txn.Put(*meta, "serial", EncodeBigEndian64(0)));
  }
  DFS_ASSIGN_OR_RETURN(auto format, txn.Get(*meta, "format"));
  if (!format || *format != kFormatName) {
    return Fail(Errc::kCorrupt, where + " is not a dfs namespace store");
  }
  DFS_ASSIGN_OR_RETURN(auto schema_bytes, txn.Get(*meta, "schema"));
  uint32_t schema = 0;
  if (schema_bytes) {
    ByteReader r(*schema_bytes);
    if (auto v = r.U32("schema")) schema = *v;
  }
  if (schema != kStoreSchemaVersion) {
    return Fail(Errc::kUnsupported, where + " has store schema version " +
                                        std::to_string(schema) +
                                        "; this build reads version " +
                                        std::to_string(kStoreSchemaVersion));
  }
  for (auto [name, table] : {std::pair{"roots", &impl.tables_.roots},
                             std::pair{"folders", &impl.tables_.folders},
                             std::pair{"aliases", &impl.tables_.aliases},
                             std::pair{"log", &impl.tables_.log},
                             std::pair{"sites", &impl.tables_.sites}}) {
    DFS_ASSIGN_OR_RETURN(auto opened, txn.OpenTable(name, create));
    if (!opened) {
      return Fail(Errc::kCorrupt, where + " lacks the '" + name +
                                      "' table of a dfs namespace store");
    }
    *table = *opened;
  }
  // Committed even when read-only: LMDB keeps table handles opened in a
  // transaction only if it commits.
  return txn.Commit("initialising " + where);
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const fs::path& Store::dir() const { return impl_->dir_; }

void ExitCleanlyOnStoreFault() {
  lmdb::ExitCleanlyOnFault(
      "dfs: the namespace store is damaged (a page of data.mdb cannot be "
      "read: SIGBUS); nothing was changed. Check it with 'dfsutil store "
      "verify' and restore it from a backup or a replica.\n");
}

Result<std::unique_ptr<Store>> Store::Open(const fs::path& dir,
                                           const StoreOptions& options) {
  std::error_code ec;
  const bool exists = fs::exists(dir / "data.mdb", ec);
  if (!exists) {
    if (!options.create_if_missing) {
      return Fail(Errc::kNotFound, "no namespace store in " + dir.string() +
                                       " (a write such as 'root add' creates "
                                       "one)");
    }
    fs::create_directories(dir, ec);
    if (ec) {
      return Fail(Errc::kIo,
                  "cannot create " + dir.string() + ": " + ec.message());
    }
  }
  if (!fs::is_directory(dir, ec)) {
    return Fail(Errc::kInvalidArgument, dir.string() + " is not a folder");
  }
  auto impl = std::make_unique<Impl>();
  impl->dir_ = dir;
  impl->options_ = options;
  lmdb::EnvOptions env_options;
  env_options.name = "the namespace store";
  env_options.map_size_bytes = options.map_size_bytes;
  env_options.max_tables = 8;
  env_options.damage_hint = kDamageHint;
  DFS_ASSIGN_OR_RETURN(impl->env_, lmdb::Env::Open(dir, env_options));
  DFS_RETURN_IF_ERROR(InitSchema(*impl, options.create_if_missing));
  auto store = std::unique_ptr<Store>(new Store(std::move(impl)));
  if (exists && options.verify_on_open) {
    DFS_RETURN_IF_ERROR(store->Verify());
  }
  return store;
}

Result<uint64_t> Store::Update(
    std::string_view description,
    const std::function<Status(NamespaceWriter&)>& change) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginWrite());
  TableView view(txn, impl_->tables_);
  DFS_ASSIGN_OR_RETURN(auto primary,
                       view.Get(impl_->tables_.meta, "replica_of"));
  if (primary) {
    return Fail(Errc::kConflict, "this store is a replica of " +
                                     std::string(*primary) +
                                     "; make changes on the primary");
  }
  const uint64_t before = view.Serial();
  DFS_RETURN_IF_ERROR(change(view));
  if (view.mutation_count() == 0) return before;  // nothing to commit

  ChangeEntry entry;
  entry.serial = before + 1;
  entry.unix_millis = NowMillis(impl_->options_);
  entry.description = std::string(description.substr(0, kMaxDescriptionBytes));
  entry.resync_required = view.too_big_to_log();
  entry.mutations = std::move(view.logged());
  DFS_RETURN_IF_ERROR(CommitEntry(*impl_, view, entry));
  return entry.serial;
}

Result<std::unique_ptr<NamespaceReader>> Store::Snapshot() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  return std::unique_ptr<NamespaceReader>(
      std::make_unique<TableView>(std::move(txn), impl_->tables_));
}

Status ScanRecords(const TableView& view,
                   const std::function<Status(Mutation&&)>& visit) {
  const StoreTables& t = view.tables();
  DFS_RETURN_IF_ERROR(view.Scan(
      t.aliases, "",
      [&](std::string_view k, std::string_view v) -> Result<bool> {
        DFS_RETURN_IF_ERROR(visit(PutAlias{std::string(k), std::string(v)}));
        return true;
      }));
  DFS_RETURN_IF_ERROR(view.Scan(
      t.roots, "", [&](std::string_view k, std::string_view v) -> Result<bool> {
        DFS_ASSIGN_OR_RETURN(Root root, DecodeRoot(v));
        DFS_RETURN_IF_ERROR(visit(PutRoot{std::string(k), std::move(root)}));
        return true;
      }));
  DFS_RETURN_IF_ERROR(
      view.Scan(t.folders, "",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  DFS_ASSIGN_OR_RETURN(PutFolder put, FolderFromDb(k, v));
                  DFS_RETURN_IF_ERROR(visit(std::move(put)));
                  return true;
                }));
  DFS_ASSIGN_OR_RETURN(auto subnets, view.ListSubnets());
  for (auto& m : subnets) DFS_RETURN_IF_ERROR(visit(std::move(m)));
  DFS_ASSIGN_OR_RETURN(auto costs, view.ListSiteCosts());
  for (auto& m : costs) DFS_RETURN_IF_ERROR(visit(std::move(m)));
  return Status::Ok();
}

Status Store::LoadInto(NamespaceIndex& index) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  TableView view(txn, impl_->tables_);
  NamespaceIndex fresh;
  DFS_RETURN_IF_ERROR(
      ScanRecords(view, [&](Mutation&& m) { return fresh.Apply(m); }));
  fresh.SetSerial(view.Serial());
  index = std::move(fresh);
  return Status::Ok();
}

Result<StoreStats> Store::Stats() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  TableView view(txn, impl_->tables_);
  const StoreTables& t = impl_->tables_;
  StoreStats s;
  s.serial = view.Serial();
  DFS_ASSIGN_OR_RETURN(s.roots, txn.Count(t.roots));
  DFS_ASSIGN_OR_RETURN(s.folders, txn.Count(t.folders));
  DFS_ASSIGN_OR_RETURN(s.aliases, txn.Count(t.aliases));
  DFS_ASSIGN_OR_RETURN(s.log_entries, txn.Count(t.log));
  DFS_ASSIGN_OR_RETURN(lmdb::Cursor cursor, txn.OpenCursor(t.log));
  DFS_ASSIGN_OR_RETURN(auto oldest, cursor.First());
  if (oldest) {
    if (auto serial = DecodeBigEndian64(oldest->key)) {
      s.oldest_logged_serial = *serial;
    }
  }
  s.used_bytes = impl_->env_->UsedBytes();
  s.file_bytes = impl_->env_->FileBytes();
  return s;
}

Result<StoreReport> Store::Verify() const {
  DFS_RETURN_IF_ERROR(impl_->env_->CheckFileSize());
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, impl_->env_->BeginRead());
  TableView view(txn, impl_->tables_);
  const StoreTables& t = impl_->tables_;
  const std::string where = impl_->dir_.string();
  auto damaged = [&](const std::string& what) {
    return Status(MakeError(Errc::kCorrupt, "the namespace store " + where +
                                                " is damaged: " + what + "; " +
                                                kDamageHint));
  };
  auto none = [](std::string_view, std::string_view) { return Status::Ok(); };
  StoreReport report;
  report.serial = view.Serial();
  std::set<std::string, std::less<>> roots;
  DFS_ASSIGN_OR_RETURN(
      report.roots,
      txn.VerifyCount(t.roots, "roots",
                      [&](std::string_view k, std::string_view v) -> Status {
                        auto root = DecodeRoot(v);
                        if (!root) {
                          return damaged("root " + std::string(k) + ": " +
                                         root.error().context);
                        }
                        roots.emplace(k);
                        return Status::Ok();
                      }));
  DFS_ASSIGN_OR_RETURN(
      report.folders,
      txn.VerifyCount(t.folders, "folders",
                      [&](std::string_view k, std::string_view v) -> Status {
                        auto put = FolderFromDb(k, v);
                        if (!put) {
                          return damaged("folder " + std::string(k) + ": " +
                                         put.error().context);
                        }
                        if (!roots.contains(put->root_key)) {
                          return damaged("folder " + std::string(k) +
                                         " has no root " + put->root_key);
                        }
                        return Status::Ok();
                      }));
  DFS_ASSIGN_OR_RETURN(report.aliases,
                       txn.VerifyCount(t.aliases, "aliases", none));
  DFS_ASSIGN_OR_RETURN(report.log_entries, txn.VerifyCount(t.log, "log", none));
  DFS_ASSIGN_OR_RETURN(report.sites, txn.VerifyCount(t.sites, "sites", none));
  DFS_ASSIGN_OR_RETURN(uint64_t meta, txn.VerifyCount(t.meta, "meta", none));
  (void)meta;
  return report;
}

}  // namespace dfs::ns
