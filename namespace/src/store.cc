#include "dfs/ns/store.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <set>
#include <system_error>

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "dfs/ns/path.h"

namespace dfs::ns {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kFormatName = "dfs-namespace-store";
// LMDB's compiled-in key limit (mdb_env_get_maxkeysize): a root key plus a
// folder key must fit in it.
constexpr size_t kLmdbMaxKeyBytes = 511;

class LmdbCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lmdb"; }
  std::string message(int rc) const override { return mdb_strerror(rc); }
};

const std::error_category& LmdbErrorCategory() {
  static const LmdbCategory category;
  return category;
}

// A failed commit. LMDB can report a full disk as EIO (a write-back that
// failed), so an I/O error is checked against the free space where the
// store lives: an admin must read "disk full", not "Input/output error".
Error CommitError(const fs::path& dir, int rc, const std::string& what);

Error LmdbError(int rc, const std::string& what) {
  std::string text = what + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) {
    text = what + ": the store reached its size limit; nothing was changed";
  } else if (rc == ENOSPC) {
    text = what + ": the disk is full; nothing was changed";
  }
  return Error{std::error_code(rc, LmdbErrorCategory()), text};
}

Error CommitError(const fs::path& dir, int rc, const std::string& what) {
  constexpr uint64_t kNearlyFullBytes = uint64_t{4} << 20;
  struct statvfs fs {};
  if ((rc == EIO || rc == ENOSPC) && ::statvfs(dir.c_str(), &fs) == 0) {
    const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
    if (free_bytes < kNearlyFullBytes) {
      return MakeError(Errc::kIo, what + ": the disk holding " + dir.string() +
                                      " is full (" +
                                      std::to_string(free_bytes) +
                                      " bytes free); nothing was changed");
    }
  }
  return LmdbError(rc, what);
}

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string FolderDbKey(std::string_view root_key,
                        std::string_view folder_key) {
  std::string k;
  k.reserve(root_key.size() + 1 + folder_key.size());
  k.append(root_key).append(1, '\\').append(folder_key);
  return k;
}

struct Dbis {
  MDB_dbi meta = 0, roots = 0, folders = 0, aliases = 0, log = 0, sites = 0;
};

}  // namespace

class Store::Impl {
 public:
  ~Impl() {
    if (env_ != nullptr) mdb_env_close(env_);
  }

  Result<MDB_txn*> Begin(unsigned flags) const {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, flags, &txn);
    if (rc == MDB_MAP_RESIZED) {
      // Another process grew the map: adopt its size and retry.
      mdb_env_set_mapsize(env_, 0);
      rc = mdb_txn_begin(env_, nullptr, flags, &txn);
    }
    if (rc != 0)
      return Unexpected<Error>(LmdbError(rc, "opening a transaction"));
    return txn;
  }

  MDB_env* env_ = nullptr;
  Dbis dbi_;
  fs::path dir_;
  StoreOptions options_;
};

namespace {

// A NamespaceWriter over one LMDB transaction. Read-only views refuse
// Apply; writable ones record every mutation for the change log.
class LmdbView final : public NamespaceWriter {
 public:
  LmdbView(MDB_txn* txn, const Dbis& dbi, bool owns_txn, bool writable)
      : txn_(txn), dbi_(dbi), owns_txn_(owns_txn), writable_(writable) {}
  ~LmdbView() override {
    if (owns_txn_) mdb_txn_abort(txn_);
  }

  Result<std::optional<std::string_view>> Get(MDB_dbi dbi,
                                              std::string_view key) const {
    if (key.empty() || key.size() > kLmdbMaxKeyBytes) {
      return std::optional<std::string_view>();
    }
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
    if (rc != 0) return Unexpected<Error>(LmdbError(rc, "reading the store"));
    return std::optional<std::string_view>(View(v));
  }

  Result<std::optional<Root>> GetRoot(
      std::string_view root_key) const override {
    DFS_ASSIGN_OR_RETURN(auto bytes, Get(dbi_.roots, root_key));
    if (!bytes) return std::optional<Root>();
    DFS_ASSIGN_OR_RETURN(Root root, DecodeRoot(*bytes));
    return std::optional<Root>(std::move(root));
  }

  Result<std::optional<Folder>> GetFolder(
      std::string_view root_key, std::string_view folder_key) const override {
    DFS_ASSIGN_OR_RETURN(auto bytes,
                         Get(dbi_.folders, FolderDbKey(root_key, folder_key)));
    if (!bytes) return std::optional<Folder>();
    DFS_ASSIGN_OR_RETURN(Folder folder, DecodeFolder(*bytes));
    return std::optional<Folder>(std::move(folder));
  }

  // Calls `visit(key, value)` for every entry whose key starts with
  // `prefix`, in key order, until it returns false.
  template <typename Visit>
  Status Scan(MDB_dbi dbi, std::string_view prefix, Visit visit) const {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbi, &cursor);
    if (rc != 0) return Unexpected<Error>(LmdbError(rc, "scanning the store"));
    MDB_val k = Val(prefix), v;
    rc = prefix.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    Status status;
    while (rc == 0 && StartsWith(View(k), prefix)) {
      auto more = visit(View(k), View(v));
      if (!more) {
        status = Status(more.error());
        break;
      }
      if (!*more) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (status.ok() && rc != 0 && rc != MDB_NOTFOUND) {
      return Unexpected<Error>(LmdbError(rc, "scanning the store"));
    }
    return status;
  }

  Result<std::vector<Folder>> ListFolders(
      std::string_view root_key) const override {
    std::vector<Folder> out;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.folders, std::string(root_key) + "\\",
             [&](std::string_view, std::string_view v) -> Result<bool> {
               DFS_ASSIGN_OR_RETURN(Folder f, DecodeFolder(v));
               out.push_back(std::move(f));
               return true;
             }));
    return out;
  }

  Result<bool> HasFolderBelow(std::string_view root_key,
                              std::string_view folder_key) const override {
    bool found = false;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.folders, FolderDbKey(root_key, folder_key) + "\\",
             [&](std::string_view, std::string_view) -> Result<bool> {
               found = true;
               return false;
             }));
    return found;
  }

  Result<std::vector<RootEntry>> ListRoots() const override {
    std::vector<RootEntry> out;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.roots, "",
             [&](std::string_view k, std::string_view v) -> Result<bool> {
               DFS_ASSIGN_OR_RETURN(Root r, DecodeRoot(v));
               out.push_back(RootEntry{std::string(k), std::move(r)});
               return true;
             }));
    return out;
  }

  Result<std::string> CanonicalHost(
      std::string_view folded_host) const override {
    DFS_ASSIGN_OR_RETURN(auto canonical, Get(dbi_.aliases, folded_host));
    return canonical ? std::string(*canonical) : std::string(folded_host);
  }

  Result<std::vector<std::pair<std::string, std::string>>> ListAliases()
      const override {
    std::vector<std::pair<std::string, std::string>> out;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.aliases, "",
             [&](std::string_view k, std::string_view v) -> Result<bool> {
               out.emplace_back(std::string(k), std::string(v));
               return true;
             }));
    return out;
  }

  Result<std::vector<PutSubnet>> ListSubnets() const override {
    std::vector<PutSubnet> out;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.sites, std::string_view("s\0", 2),
             [&](std::string_view k, std::string_view v) -> Result<bool> {
               out.push_back({std::string(k.substr(2)), std::string(v)});
               return true;
             }));
    return out;
  }

  Result<std::vector<PutSiteCost>> ListSiteCosts() const override {
    std::vector<PutSiteCost> out;
    DFS_RETURN_IF_ERROR(
        Scan(dbi_.sites, std::string_view("c\0", 2),
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

  uint64_t Serial() const override {
    auto bytes = Get(dbi_.meta, "serial");
    if (!bytes || !*bytes) return 0;
    auto serial = DecodeBigEndian64(**bytes);
    return serial ? *serial : 0;
  }

  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
    if (key.empty() || key.size() > kLmdbMaxKeyBytes) {
      return Fail(Errc::kLimitExceeded,
                  "the key '" + std::string(key.substr(0, 80)) + "' is " +
                      std::to_string(key.size()) +
                      " bytes; host, root and folder path together may take "
                      "at most " +
                      std::to_string(kLmdbMaxKeyBytes));
    }
    MDB_val k = Val(key), v = Val(value);
    int rc = mdb_put(txn_, dbi, &k, &v, 0);
    if (rc != 0) return Unexpected<Error>(LmdbError(rc, "writing the store"));
    return Status::Ok();
  }

  Status Del(MDB_dbi dbi, std::string_view key) {
    if (key.empty() || key.size() > kLmdbMaxKeyBytes) return Status::Ok();
    MDB_val k = Val(key);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return Unexpected<Error>(LmdbError(rc, "writing the store"));
    }
    return Status::Ok();
  }

  Status DeletePrefix(MDB_dbi dbi, std::string_view prefix) {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, dbi, &cursor);
    if (rc != 0) return Unexpected<Error>(LmdbError(rc, "writing the store"));
    MDB_val k = Val(prefix), v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && StartsWith(View(k), prefix)) {
      rc = mdb_cursor_del(cursor, 0);
      if (rc != 0) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) {
      return Unexpected<Error>(LmdbError(rc, "writing the store"));
    }
    return Status::Ok();
  }

  Status Apply(const Mutation& mutation) override {
    if (!writable_) {
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

  // The caller commits or aborts the transaction itself from now on.
  void ReleaseTxn() { owns_txn_ = false; }
  size_t mutation_count() const { return mutation_count_; }
  bool too_big_to_log() const { return mutation_count_ > kMaxLoggedMutations; }
  std::vector<Mutation>& logged() { return logged_; }

 private:
  Status Write(const PutRoot& m) {
    if (m.root_key.find('\\') == std::string::npos) {
      return Fail(Errc::kCorrupt, "root key without a separator");
    }
    return Put(dbi_.roots, m.root_key, EncodeRoot(m.root));
  }
  Status Write(const DeleteRoot& m) {
    DFS_RETURN_IF_ERROR(Del(dbi_.roots, m.root_key));
    return DeletePrefix(dbi_.folders, m.root_key + "\\");
  }
  Status Write(const PutFolder& m) {
    DFS_ASSIGN_OR_RETURN(auto root, Get(dbi_.roots, m.root_key));
    if (!root) {
      return Fail(Errc::kNotFound,
                  "folder put below missing root " + m.root_key);
    }
    return Put(dbi_.folders, FolderDbKey(m.root_key, m.folder_key),
               EncodeFolder(m.folder));
  }
  Status Write(const DeleteFolder& m) {
    return Del(dbi_.folders, FolderDbKey(m.root_key, m.folder_key));
  }
  Status Write(const PutAlias& m) {
    return Put(dbi_.aliases, m.alias, m.canonical);
  }
  Status Write(const DeleteAlias& m) { return Del(dbi_.aliases, m.alias); }
  static std::string SubnetKey(std::string_view cidr) {
    return std::string("s\0", 2) + std::string(cidr);
  }
  static std::string CostKey(std::string_view a, std::string_view b) {
    return std::string("c\0", 2) + std::string(a) + std::string(1, '\0') +
           std::string(b);
  }
  Status Write(const PutSubnet& m) {
    return Put(dbi_.sites, SubnetKey(m.cidr), m.site);
  }
  Status Write(const DeleteSubnet& m) {
    return Del(dbi_.sites, SubnetKey(m.cidr));
  }
  Status Write(const PutSiteCost& m) {
    ByteWriter w;
    w.U32(m.cost);
    return Put(dbi_.sites, CostKey(m.site_a, m.site_b), w.data());
  }
  Status Write(const DeleteSiteCost& m) {
    return Del(dbi_.sites, CostKey(m.site_a, m.site_b));
  }

  MDB_txn* txn_;
  Dbis dbi_;
  bool owns_txn_;
  bool writable_;
  size_t mutation_count_ = 0;
  std::vector<Mutation> logged_;
};

// Opens (or creates) the named databases and checks the schema.
Status InitSchema(Store::Impl& impl, bool create) {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl.Begin(create ? 0 : MDB_RDONLY));
  auto fail = [&](Error e) -> Status {
    mdb_txn_abort(txn);
    return Status(std::move(e));
  };
  const std::string where = impl.dir_.string();
  MDB_dbi meta;
  int rc = mdb_dbi_open(txn, "meta", 0, &meta);
  bool fresh = false;
  if (rc == MDB_NOTFOUND) {
    // Only an empty environment may become a store: anything else belongs
    // to somebody else.
    MDB_dbi main_dbi;
    MDB_stat st{};
    if (mdb_dbi_open(txn, nullptr, 0, &main_dbi) == 0) {
      mdb_stat(txn, main_dbi, &st);
    }
    if (!create || st.ms_entries != 0) {
      return fail(MakeError(Errc::kCorrupt,
                            where + " holds an LMDB database that is not a "
                                    "dfs namespace store"));
    }
    rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
    fresh = true;
  }
  if (rc != 0) return fail(LmdbError(rc, "opening " + where));
  impl.dbi_.meta = meta;
  LmdbView view(txn, impl.dbi_, /*owns_txn=*/false, /*writable=*/create);
  if (fresh) {
    ByteWriter schema;
    schema.U32(kStoreSchemaVersion);
    Status st = view.Put(meta, "format", kFormatName);
    if (st) st = view.Put(meta, "schema", schema.data());
    if (st) st = view.Put(meta, "serial", EncodeBigEndian64(0));
    if (!st) return fail(st.error());
  }
  auto format = view.Get(meta, "format");
  if (!format) return fail(format.error());
  if (!*format || **format != kFormatName) {
    return fail(
        MakeError(Errc::kCorrupt, where + " is not a dfs namespace store"));
  }
  auto schema_bytes = view.Get(meta, "schema");
  if (!schema_bytes) return fail(schema_bytes.error());
  uint32_t schema = 0;
  if (*schema_bytes) {
    ByteReader r(**schema_bytes);
    auto v = r.U32("schema");
    if (v) schema = *v;
  }
  if (schema != kStoreSchemaVersion) {
    return fail(
        MakeError(Errc::kUnsupported, where + " has store schema version " +
                                          std::to_string(schema) +
                                          "; this build reads version " +
                                          std::to_string(kStoreSchemaVersion)));
  }
  const unsigned flags = create ? MDB_CREATE : 0;
  for (auto [name, dbi] : {std::pair{"roots", &impl.dbi_.roots},
                           std::pair{"folders", &impl.dbi_.folders},
                           std::pair{"aliases", &impl.dbi_.aliases},
                           std::pair{"log", &impl.dbi_.log},
                           std::pair{"sites", &impl.dbi_.sites}}) {
    rc = mdb_dbi_open(txn, name, flags, dbi);
    if (rc != 0) {
      return fail(rc == MDB_NOTFOUND
                      ? MakeError(Errc::kCorrupt,
                                  where + " lacks the '" + name +
                                      "' table of a dfs namespace store")
                      : LmdbError(rc, "opening " + where));
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return Status(LmdbError(rc, "initialising " + where));
  return Status::Ok();
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const fs::path& Store::dir() const { return impl_->dir_; }

namespace {

// LMDB aborts the process when it meets a page it cannot make sense of
// (zeroed or overwritten pages). It cannot be turned into an error, but
// the last words can name the store and what to do.
void OnLmdbAssert(MDB_env* env, const char* msg) {
  const char* path = nullptr;
  mdb_env_get_path(env, &path);
  std::fprintf(stderr,
               "dfs: the namespace store %s is damaged (LMDB: %s); nothing "
               "more is read from it. Check it with 'dfsutil store verify' "
               "and restore it from a backup or a replica.\n",
               path ? path : "?", msg ? msg : "?");
}

Status CheckFileSize(const Store::Impl& impl) {
  MDB_envinfo info{};
  MDB_stat env_stat{};
  if (mdb_env_info(impl.env_, &info) != 0 ||
      mdb_env_stat(impl.env_, &env_stat) != 0) {
    return Status::Ok();
  }
  const uint64_t needed = (info.me_last_pgno + 1) * uint64_t{env_stat.ms_psize};
  struct stat st {};
  const fs::path file = impl.dir_ / "data.mdb";
  if (::stat(file.c_str(), &st) == 0 &&
      static_cast<uint64_t>(st.st_size) < needed) {
    return Fail(Errc::kCorrupt,
                "the namespace store is damaged: " + file.string() + " is " +
                    std::to_string(st.st_size) + " bytes but its pages reach " +
                    std::to_string(needed) +
                    " (truncated?); restore it from a backup or a replica");
  }
  return Status::Ok();
}

}  // namespace

void ExitCleanlyOnStoreFault() {
  struct sigaction action {};
  action.sa_handler = [](int) {
    static const char kMessage[] =
        "dfs: the namespace store is damaged (a page of data.mdb cannot be "
        "read: SIGBUS); nothing was changed. Check it with 'dfsutil store "
        "verify' and restore it from a backup or a replica.\n";
    (void)!write(2, kMessage, sizeof kMessage - 1);
    _exit(1);
  };
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, nullptr);
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
  int rc = mdb_env_create(&impl->env_);
  if (rc == 0) rc = mdb_env_set_assert(impl->env_, OnLmdbAssert);
  if (rc == 0) rc = mdb_env_set_maxdbs(impl->env_, 8);
  if (rc == 0) rc = mdb_env_set_mapsize(impl->env_, options.map_size_bytes);
  if (rc != 0) return Unexpected<Error>(LmdbError(rc, "creating LMDB env"));
  rc = mdb_env_open(impl->env_, dir.c_str(), MDB_NOTLS, 0644);
  if (rc == MDB_INVALID) {
    return Fail(Errc::kCorrupt,
                (dir / "data.mdb").string() + " is not an LMDB database");
  }
  if (rc == MDB_VERSION_MISMATCH) {
    return Fail(Errc::kUnsupported, dir.string() +
                                        " was written by another LMDB "
                                        "version");
  }
  if (rc != 0) {
    return Unexpected<Error>(LmdbError(rc, "opening store " + dir.string()));
  }
  // A file shorter than its own pages (truncated: a full disk, a bad
  // copy) would fault with SIGBUS on the first read of a missing page.
  DFS_RETURN_IF_ERROR(CheckFileSize(*impl));
  // Clear reader slots left by processes that died mid-read, so they do
  // not pin old pages forever.
  int dead = 0;
  mdb_reader_check(impl->env_, &dead);
  DFS_RETURN_IF_ERROR(InitSchema(*impl, options.create_if_missing));
  auto store = std::unique_ptr<Store>(new Store(std::move(impl)));
  if (exists && options.verify_on_open) {
    DFS_RETURN_IF_ERROR(store->Verify());
  }
  return store;
}

namespace {

// Writes `entry` as the next log entry, moves the serial, trims the log and
// commits `txn` (whatever the outcome, the transaction is finished).
Status CommitEntry(Store::Impl& impl, MDB_txn* txn, LmdbView& view,
                   const ChangeEntry& entry) {
  const std::string serial_key = EncodeBigEndian64(entry.serial);
  DFS_RETURN_IF_ERROR(
      view.Put(impl.dbi_.log, serial_key, EncodeChangeEntry(entry)));
  DFS_RETURN_IF_ERROR(view.Put(impl.dbi_.meta, "serial", serial_key));
  // Trim the log to the configured length; each commit removes the few
  // entries that fell off, so this stays O(1) per change.
  if (entry.serial > impl.options_.change_log_keep) {
    const uint64_t cutoff = entry.serial - impl.options_.change_log_keep;
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, impl.dbi_.log, &cursor);
    MDB_val k, v;
    if (rc == 0) rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0) {
      auto serial = DecodeBigEndian64(View(k));
      if (!serial || *serial > cutoff) break;
      rc = mdb_cursor_del(cursor, 0);
      if (rc == 0) rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT);
    }
    if (cursor != nullptr) mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL) {
      return Unexpected<Error>(LmdbError(rc, "trimming the change log"));
    }
  }
  view.ReleaseTxn();
  int rc = mdb_txn_commit(txn);
  if (rc != 0) {
    return Unexpected<Error>(
        CommitError(impl.dir_, rc, "committing the change"));
  }
  return Status::Ok();
}

int64_t NowMillis(const StoreOptions& options) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             options.clock->Now().time_since_epoch())
      .count();
}

}  // namespace

Result<uint64_t> Store::Update(
    std::string_view description,
    const std::function<Status(NamespaceWriter&)>& change) {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(0));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/true);
  DFS_ASSIGN_OR_RETURN(auto primary, view.Get(impl_->dbi_.meta, "replica_of"));
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
  DFS_RETURN_IF_ERROR(CommitEntry(*impl_, txn, view, entry));
  return entry.serial;
}

Status Store::MarkReplicaOf(std::string_view primary) {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(0));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/true);
  DFS_RETURN_IF_ERROR(view.Put(impl_->dbi_.meta, "replica_of", primary));
  view.ReleaseTxn();
  int rc = mdb_txn_commit(txn);
  if (rc != 0)
    return Unexpected<Error>(LmdbError(rc, "marking the store a replica"));
  return Status::Ok();
}

Result<std::optional<std::string>> Store::ReplicaOf() const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  DFS_ASSIGN_OR_RETURN(auto primary, view.Get(impl_->dbi_.meta, "replica_of"));
  if (!primary) return std::optional<std::string>();
  return std::optional<std::string>(std::string(*primary));
}

Status Store::ApplyReplicated(const ChangeEntry& entry) {
  if (entry.resync_required) {
    return Fail(Errc::kNeedResync,
                "serial " + std::to_string(entry.serial) +
                    " was too large to log; fetch a snapshot");
  }
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(0));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/true);
  if (entry.serial != view.Serial() + 1) {
    return Fail(Errc::kConflict, "replicated serial " +
                                     std::to_string(entry.serial) +
                                     " does not follow local serial " +
                                     std::to_string(view.Serial()));
  }
  for (const Mutation& m : entry.mutations) DFS_RETURN_IF_ERROR(view.Apply(m));
  return CommitEntry(*impl_, txn, view, entry);
}

Status Store::ReplaceWith(const ChangeEntry& snapshot) {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(0));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/true);
  for (MDB_dbi dbi :
       {impl_->dbi_.roots, impl_->dbi_.folders, impl_->dbi_.aliases,
        impl_->dbi_.log, impl_->dbi_.sites}) {
    int rc = mdb_drop(txn, dbi, 0);
    if (rc != 0) return Unexpected<Error>(LmdbError(rc, "clearing the store"));
  }
  for (const Mutation& m : snapshot.mutations)
    DFS_RETURN_IF_ERROR(view.Apply(m));
  // Followers of this store (the server's index) see one resync entry.
  ChangeEntry marker;
  marker.serial = snapshot.serial;
  marker.unix_millis = NowMillis(impl_->options_);
  marker.description = "snapshot from the primary";
  marker.resync_required = true;
  return CommitEntry(*impl_, txn, view, marker);
}

namespace {

class SnapshotView final : public NamespaceReader {
 public:
  SnapshotView(MDB_txn* txn, const Dbis& dbi)
      : view_(txn, dbi, /*owns_txn=*/true, /*writable=*/false) {}
  Result<std::optional<Root>> GetRoot(std::string_view k) const override {
    return view_.GetRoot(k);
  }
  Result<std::optional<Folder>> GetFolder(std::string_view r,
                                          std::string_view f) const override {
    return view_.GetFolder(r, f);
  }
  Result<std::vector<Folder>> ListFolders(std::string_view r) const override {
    return view_.ListFolders(r);
  }
  Result<bool> HasFolderBelow(std::string_view r,
                              std::string_view f) const override {
    return view_.HasFolderBelow(r, f);
  }
  Result<std::vector<RootEntry>> ListRoots() const override {
    return view_.ListRoots();
  }
  Result<std::string> CanonicalHost(std::string_view h) const override {
    return view_.CanonicalHost(h);
  }
  Result<std::vector<std::pair<std::string, std::string>>> ListAliases()
      const override {
    return view_.ListAliases();
  }
  Result<std::vector<PutSubnet>> ListSubnets() const override {
    return view_.ListSubnets();
  }
  Result<std::vector<PutSiteCost>> ListSiteCosts() const override {
    return view_.ListSiteCosts();
  }
  uint64_t Serial() const override { return view_.Serial(); }

 private:
  LmdbView view_;
};

}  // namespace

Result<std::unique_ptr<NamespaceReader>> Store::Snapshot() const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  return std::unique_ptr<NamespaceReader>(
      std::make_unique<SnapshotView>(txn, impl_->dbi_));
}

Result<uint64_t> Store::Serial() const {
  DFS_ASSIGN_OR_RETURN(auto snapshot, Snapshot());
  return snapshot->Serial();
}

Result<std::vector<ChangeEntry>> Store::ChangesSince(uint64_t since,
                                                     size_t max_entries) const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  std::vector<ChangeEntry> out;
  const uint64_t serial = view.Serial();
  if (since >= serial) return out;
  const std::string start = EncodeBigEndian64(since + 1);
  bool gap = false;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, impl_->dbi_.log, &cursor);
  if (rc != 0) return Unexpected<Error>(LmdbError(rc, "reading the log"));
  MDB_val k = Val(start), v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  uint64_t expect = since + 1;
  Status status;
  while (rc == 0 && out.size() < max_entries) {
    auto entry = DecodeChangeEntry(View(v));
    if (!entry) {
      status = Status(entry.error());
      break;
    }
    if (entry->serial != expect) {
      gap = true;
      break;
    }
    out.push_back(std::move(*entry));
    ++expect;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  DFS_RETURN_IF_ERROR(status);
  if (gap || (out.empty() && since < serial)) {
    return Fail(Errc::kNeedResync, "the change log no longer holds serial " +
                                       std::to_string(since + 1));
  }
  return out;
}

namespace {

// A folders-table entry as the mutation that would have written it:
// `host\root\folder...`, the root key ending at the second separator.
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

}  // namespace

Status Store::LoadInto(NamespaceIndex& index) const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  NamespaceIndex fresh;
  DFS_RETURN_IF_ERROR(
      view.Scan(impl_->dbi_.aliases, "",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  DFS_RETURN_IF_ERROR(
                      fresh.Apply(PutAlias{std::string(k), std::string(v)}));
                  return true;
                }));
  DFS_RETURN_IF_ERROR(
      view.Scan(impl_->dbi_.roots, "",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  DFS_ASSIGN_OR_RETURN(Root root, DecodeRoot(v));
                  DFS_RETURN_IF_ERROR(
                      fresh.Apply(PutRoot{std::string(k), std::move(root)}));
                  return true;
                }));
  DFS_RETURN_IF_ERROR(
      view.Scan(impl_->dbi_.folders, "",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  DFS_ASSIGN_OR_RETURN(PutFolder put, FolderFromDb(k, v));
                  DFS_RETURN_IF_ERROR(fresh.Apply(put));
                  return true;
                }));
  DFS_ASSIGN_OR_RETURN(auto subnets, view.ListSubnets());
  for (auto& m : subnets) DFS_RETURN_IF_ERROR(fresh.Apply(std::move(m)));
  DFS_ASSIGN_OR_RETURN(auto costs, view.ListSiteCosts());
  for (auto& m : costs) DFS_RETURN_IF_ERROR(fresh.Apply(std::move(m)));
  fresh.SetSerial(view.Serial());
  index = std::move(fresh);
  return Status::Ok();
}

Result<ChangeEntry> Store::SnapshotEntry() const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  ChangeEntry snapshot;
  snapshot.serial = view.Serial();
  snapshot.description = "snapshot";
  DFS_ASSIGN_OR_RETURN(auto subnets, view.ListSubnets());
  for (auto& m : subnets) snapshot.mutations.push_back(std::move(m));
  DFS_ASSIGN_OR_RETURN(auto costs, view.ListSiteCosts());
  for (auto& m : costs) snapshot.mutations.push_back(std::move(m));
  DFS_RETURN_IF_ERROR(view.Scan(
      impl_->dbi_.aliases, "",
      [&](std::string_view k, std::string_view v) -> Result<bool> {
        snapshot.mutations.push_back(PutAlias{std::string(k), std::string(v)});
        return true;
      }));
  DFS_RETURN_IF_ERROR(view.Scan(
      impl_->dbi_.roots, "",
      [&](std::string_view k, std::string_view v) -> Result<bool> {
        DFS_ASSIGN_OR_RETURN(Root root, DecodeRoot(v));
        snapshot.mutations.push_back(PutRoot{std::string(k), std::move(root)});
        return true;
      }));
  DFS_RETURN_IF_ERROR(
      view.Scan(impl_->dbi_.folders, "",
                [&](std::string_view k, std::string_view v) -> Result<bool> {
                  DFS_ASSIGN_OR_RETURN(PutFolder put, FolderFromDb(k, v));
                  snapshot.mutations.push_back(std::move(put));
                  return true;
                }));
  return snapshot;
}

Result<bool> Store::CatchUp(NamespaceIndex& index, bool allow_reload) const {
  auto reload = [&]() -> Result<bool> {
    if (!allow_reload) {
      return Fail(Errc::kNeedResync,
                  "the namespace must be reloaded from serial " +
                      std::to_string(index.Serial()));
    }
    DFS_RETURN_IF_ERROR(LoadInto(index));
    return true;
  };
  constexpr size_t kBatch = 1024;
  bool changed = false;
  for (;;) {
    auto changes = ChangesSince(index.Serial(), kBatch);
    if (!changes) {
      if (changes.error().code != make_error_code(Errc::kNeedResync)) {
        return Unexpected<Error>(std::move(changes).error());
      }
      return reload();
    }
    for (const ChangeEntry& entry : *changes) {
      if (entry.resync_required) {
        return reload();
      }
      for (const Mutation& m : entry.mutations) {
        if (!index.Apply(m)) {
          // The index disagrees with the log: rebuild rather than drift.
          return reload();
        }
      }
      index.SetSerial(entry.serial);
      changed = true;
    }
    if (changes->size() < kBatch) return changed;
  }
}

Result<StoreStats> Store::Stats() const {
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  StoreStats s;
  s.serial = view.Serial();
  auto entries = [&](MDB_dbi dbi) {
    MDB_stat st{};
    mdb_stat(txn, dbi, &st);
    return static_cast<uint64_t>(st.ms_entries);
  };
  s.roots = entries(impl_->dbi_.roots);
  s.folders = entries(impl_->dbi_.folders);
  s.aliases = entries(impl_->dbi_.aliases);
  s.log_entries = entries(impl_->dbi_.log);
  MDB_cursor* cursor = nullptr;
  MDB_val k, v;
  if (mdb_cursor_open(txn, impl_->dbi_.log, &cursor) == 0) {
    if (mdb_cursor_get(cursor, &k, &v, MDB_FIRST) == 0) {
      auto serial = DecodeBigEndian64(View(k));
      if (serial) s.oldest_logged_serial = *serial;
    }
    mdb_cursor_close(cursor);
  }
  MDB_envinfo info{};
  MDB_stat env_stat{};
  mdb_env_info(impl_->env_, &info);
  mdb_env_stat(impl_->env_, &env_stat);
  s.used_bytes = (info.me_last_pgno + 1) * uint64_t{env_stat.ms_psize};
  struct stat st {};
  if (::stat((impl_->dir_ / "data.mdb").c_str(), &st) == 0) {
    s.file_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return s;
}

Result<StoreReport> Store::Verify() const {
  DFS_RETURN_IF_ERROR(CheckFileSize(*impl_));
  DFS_ASSIGN_OR_RETURN(MDB_txn * txn, impl_->Begin(MDB_RDONLY));
  LmdbView view(txn, impl_->dbi_, /*owns_txn=*/true, /*writable=*/false);
  const std::string where = impl_->dir_.string();
  auto damaged = [&](const std::string& what) {
    return MakeError(Errc::kCorrupt, "the namespace store " + where +
                                         " is damaged: " + what +
                                         "; restore it from a backup or a "
                                         "replica");
  };
  // Walks `dbi` to its end with `check` on each entry, and compares the
  // count with what LMDB's own header says the table holds: a walk that
  // meets a broken page tends to end early, not fail.
  auto walk =
      [&](MDB_dbi dbi, const char* name,
          const std::function<Status(std::string_view, std::string_view)>&
              check) -> Result<uint64_t> {
    uint64_t seen = 0;
    auto scanned = view.Scan(
        dbi, "", [&](std::string_view k, std::string_view v) -> Result<bool> {
          ++seen;
          DFS_RETURN_IF_ERROR(check(k, v));
          return true;
        });
    if (!scanned) {
      return Unexpected(damaged(std::string("the '") + name +
                                "' table: " + scanned.error().context));
    }
    MDB_stat st{};
    mdb_stat(txn, dbi, &st);
    if (seen != st.ms_entries) {
      return Unexpected(damaged(std::string("the '") + name + "' table holds " +
                                std::to_string(st.ms_entries) +
                                " entries but " + std::to_string(seen) +
                                " can be read"));
    }
    return seen;
  };
  auto none = [](std::string_view, std::string_view) { return Status::Ok(); };
  StoreReport report;
  report.serial = view.Serial();
  std::set<std::string, std::less<>> roots;
  DFS_ASSIGN_OR_RETURN(
      report.roots,
      walk(impl_->dbi_.roots, "roots",
           [&](std::string_view k, std::string_view v) -> Status {
             auto root = DecodeRoot(v);
             if (!root) {
               return Status(damaged("root " + std::string(k) + ": " +
                                     root.error().context));
             }
             roots.emplace(k);
             return Status::Ok();
           }));
  DFS_ASSIGN_OR_RETURN(
      report.folders,
      walk(impl_->dbi_.folders, "folders",
           [&](std::string_view k, std::string_view v) -> Status {
             auto put = FolderFromDb(k, v);
             if (!put) {
               return Status(damaged("folder " + std::string(k) + ": " +
                                     put.error().context));
             }
             if (!roots.contains(put->root_key)) {
               return Status(damaged("folder " + std::string(k) +
                                     " has no root " + put->root_key));
             }
             return Status::Ok();
           }));
  DFS_ASSIGN_OR_RETURN(report.aliases,
                       walk(impl_->dbi_.aliases, "aliases", none));
  DFS_ASSIGN_OR_RETURN(report.log_entries, walk(impl_->dbi_.log, "log", none));
  DFS_ASSIGN_OR_RETURN(report.sites, walk(impl_->dbi_.sites, "sites", none));
  DFS_ASSIGN_OR_RETURN(uint64_t meta, walk(impl_->dbi_.meta, "meta", none));
  (void)meta;
  return report;
}

}  // namespace dfs::ns
