#include "dfs/lmdb/lmdb.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dfs::lmdb {
namespace fs = std::filesystem;

namespace {

class LmdbCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lmdb"; }
  std::string message(int rc) const override { return mdb_strerror(rc); }
};

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}
bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// LMDB aborts the process when it meets a page it cannot make sense of
// (zeroed or overwritten pages). That cannot be turned into an error, but
// the last words can name the store and what to do.
void OnLmdbAssert(MDB_env* env, const char* msg) {
  const char* path = nullptr;
  mdb_env_get_path(env, &path);
  const auto* options =
      static_cast<const EnvOptions*>(mdb_env_get_userctx(env));
  std::fprintf(stderr,
               "dfs: %s %s is damaged (LMDB: %s); nothing more is read from "
               "it. %s.\n",
               options ? options->name.c_str() : "the store", path ? path : "?",
               msg ? msg : "?",
               options ? options->damage_hint.c_str() : "restore it");
}

}  // namespace

const std::error_category& ErrorCategory() {
  static const LmdbCategory category;
  return category;
}

Error MakeLmdbError(int rc, const std::string& what) {
  std::string text = what + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) {
    text = what + ": the store reached its size limit; nothing was changed";
  } else if (rc == ENOSPC) {
    text = what + ": the disk is full; nothing was changed";
  }
  return Error{std::error_code(rc, ErrorCategory()), text};
}

// ------------------------------------------------------------ Env

Env::Env(fs::path dir, EnvOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Result<std::unique_ptr<Env>> Env::Open(const fs::path& dir,
                                       const EnvOptions& options) {
  auto env = std::unique_ptr<Env>(new Env(dir, options));
  int rc = mdb_env_create(&env->env_);
  if (rc == 0) rc = mdb_env_set_userctx(env->env_, &env->options_);
  if (rc == 0) rc = mdb_env_set_assert(env->env_, OnLmdbAssert);
  if (rc == 0) rc = mdb_env_set_maxdbs(env->env_, options.max_tables);
  if (rc == 0) rc = mdb_env_set_mapsize(env->env_, options.map_size_bytes);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "creating an LMDB environment"));
  }
  rc = mdb_env_open(env->env_, dir.c_str(),
                    MDB_NOTLS | (options.sync_each_commit ? 0 : MDB_NOSYNC),
                    0644);
  if (rc == MDB_INVALID) {
    return Fail(Errc::kCorrupt,
                env->data_file().string() + " is not an LMDB database");
  }
  if (rc == MDB_VERSION_MISMATCH) {
    return Fail(Errc::kUnsupported,
                dir.string() + " was written by another LMDB version");
  }
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "opening " + dir.string()));
  }
  // A file shorter than its own pages (truncated: a full disk, a bad copy)
  // would fault with SIGBUS on the first read of a missing page.
  DFS_RETURN_IF_ERROR(env->CheckFileSize());
  // Clear reader slots left by processes that died mid-read, so they do
  // not pin old pages forever.
  int dead = 0;
  mdb_reader_check(env->env_, &dead);
  return env;
}

Status Env::Sync() {
  const int rc = mdb_env_sync(env_, 1);
  if (rc != 0)
    return Unexpected<Error>(MakeLmdbError(rc, "syncing " + dir_.string()));
  return Status::Ok();
}

uint64_t Env::UsedBytes() const {
  MDB_envinfo info{};
  MDB_stat st{};
  if (mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &st) != 0) return 0;
  return (info.me_last_pgno + 1) * uint64_t{st.ms_psize};
}

uint64_t Env::FileBytes() const {
  struct stat st {};
  if (::stat(data_file().c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

Status Env::CheckFileSize() const {
  const uint64_t needed = UsedBytes();
  struct stat st {};
  const fs::path file = data_file();
  if (needed != 0 && ::stat(file.c_str(), &st) == 0 &&
      static_cast<uint64_t>(st.st_size) < needed) {
    return Fail(Errc::kCorrupt,
                options_.name + " is damaged: " + file.string() + " is " +
                    std::to_string(st.st_size) + " bytes but its pages reach " +
                    std::to_string(needed) + " (truncated?); " +
                    options_.damage_hint);
  }
  return Status::Ok();
}

Result<Txn> Env::Begin(bool writable) const {
  MDB_txn* txn = nullptr;
  const unsigned flags = writable ? 0 : MDB_RDONLY;
  int rc = mdb_txn_begin(env_, nullptr, flags, &txn);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map: adopt its size and retry.
    mdb_env_set_mapsize(env_, 0);
    rc = mdb_txn_begin(env_, nullptr, flags, &txn);
  }
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "opening a transaction"));
  }
  return Txn(txn, writable, this);
}

Result<Txn> Env::BeginRead() const { return Begin(false); }
Result<Txn> Env::BeginWrite() { return Begin(true); }

// ------------------------------------------------------------ Cursor

Cursor::Cursor(Cursor&& other) noexcept
    : cursor_(std::exchange(other.cursor_, nullptr)) {}

Cursor::~Cursor() {
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
}

Result<std::optional<Entry>> Cursor::Move(int op, std::string_view key) {
  MDB_val k = Val(key), v{};
  const int rc =
      mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op));
  // EINVAL: a cursor on nothing (after deleting the last entry).
  if (rc == MDB_NOTFOUND || (rc == EINVAL && op == MDB_GET_CURRENT)) {
    return std::optional<Entry>();
  }
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "reading the store"));
  }
  return std::optional<Entry>(Entry{View(k), View(v)});
}

Result<std::optional<Entry>> Cursor::First() { return Move(MDB_FIRST, {}); }
Result<std::optional<Entry>> Cursor::Seek(std::string_view key) {
  if (key.empty()) return First();
  return Move(MDB_SET_RANGE, key);
}
Result<std::optional<Entry>> Cursor::Next() { return Move(MDB_NEXT, {}); }
Result<std::optional<Entry>> Cursor::Current() {
  return Move(MDB_GET_CURRENT, {});
}

Status Cursor::DeleteCurrent() {
  const int rc = mdb_cursor_del(cursor_, 0);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "writing the store"));
  }
  return Status::Ok();
}

// ------------------------------------------------------------ Txn

Txn::Txn(Txn&& other) noexcept
    : txn_(std::exchange(other.txn_, nullptr)),
      writable_(other.writable_),
      env_(other.env_) {}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    Abort();
    txn_ = std::exchange(other.txn_, nullptr);
    writable_ = other.writable_;
    env_ = other.env_;
  }
  return *this;
}

Txn::~Txn() { Abort(); }

void Txn::Abort() {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Result<std::optional<Dbi>> Txn::OpenTable(const char* name, bool create) {
  MDB_dbi dbi = 0;
  const int rc = mdb_dbi_open(txn_, name, create ? MDB_CREATE : 0, &dbi);
  if (rc == MDB_NOTFOUND) return std::optional<Dbi>();
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(
        rc, "opening table '" + std::string(name ? name : "") + "'"));
  }
  return std::optional<Dbi>(dbi);
}

Result<uint64_t> Txn::MainTableEntries() {
  MDB_dbi main_dbi = 0;
  if (mdb_dbi_open(txn_, nullptr, 0, &main_dbi) != 0) return uint64_t{0};
  return Count(main_dbi);
}

Result<std::optional<std::string_view>> Txn::Get(Dbi table,
                                                 std::string_view key) const {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return std::optional<std::string_view>();
  }
  MDB_val k = Val(key), v{};
  const int rc = mdb_get(txn_, table, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "reading the store"));
  }
  return std::optional<std::string_view>(View(v));
}

Status Txn::Put(Dbi table, std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Fail(Errc::kLimitExceeded,
                "the key '" + std::string(key.substr(0, 80)) + "' is " +
                    std::to_string(key.size()) + " bytes; a key takes 1 to " +
                    std::to_string(kMaxKeyBytes));
  }
  MDB_val k = Val(key), v = Val(value);
  const int rc = mdb_put(txn_, table, &k, &v, 0);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "writing the store"));
  }
  return Status::Ok();
}

Status Txn::Delete(Dbi table, std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return Status::Ok();
  MDB_val k = Val(key);
  const int rc = mdb_del(txn_, table, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return Unexpected<Error>(MakeLmdbError(rc, "writing the store"));
  }
  return Status::Ok();
}

Status Txn::DeletePrefix(Dbi table, std::string_view prefix) {
  DFS_ASSIGN_OR_RETURN(Cursor cursor, OpenCursor(table));
  DFS_ASSIGN_OR_RETURN(auto entry, cursor.Seek(prefix));
  while (entry && StartsWith(entry->key, prefix)) {
    DFS_RETURN_IF_ERROR(cursor.DeleteCurrent());
    DFS_ASSIGN_OR_RETURN(entry, cursor.Current());
  }
  return Status::Ok();
}

Status Txn::DeleteFromStartWhile(
    Dbi table, const std::function<bool(std::string_view)>& keep_going) {
  DFS_ASSIGN_OR_RETURN(Cursor cursor, OpenCursor(table));
  DFS_ASSIGN_OR_RETURN(auto entry, cursor.First());
  while (entry && keep_going(entry->key)) {
    DFS_RETURN_IF_ERROR(cursor.DeleteCurrent());
    DFS_ASSIGN_OR_RETURN(entry, cursor.Current());
  }
  return Status::Ok();
}

Status Txn::Clear(Dbi table) {
  const int rc = mdb_drop(txn_, table, 0);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "clearing the store"));
  }
  return Status::Ok();
}

Result<uint64_t> Txn::Count(Dbi table) const {
  MDB_stat st{};
  const int rc = mdb_stat(txn_, table, &st);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "reading the store"));
  }
  return static_cast<uint64_t>(st.ms_entries);
}

Result<Cursor> Txn::OpenCursor(Dbi table) const {
  MDB_cursor* cursor = nullptr;
  const int rc = mdb_cursor_open(txn_, table, &cursor);
  if (rc != 0) {
    return Unexpected<Error>(MakeLmdbError(rc, "reading the store"));
  }
  return Cursor(cursor);
}

Status Txn::Scan(
    Dbi table, std::string_view prefix,
    const std::function<Result<bool>(std::string_view, std::string_view)>&
        visit) const {
  DFS_ASSIGN_OR_RETURN(Cursor cursor, OpenCursor(table));
  DFS_ASSIGN_OR_RETURN(auto entry, cursor.Seek(prefix));
  while (entry && StartsWith(entry->key, prefix)) {
    DFS_ASSIGN_OR_RETURN(bool more, visit(entry->key, entry->value));
    if (!more) break;
    DFS_ASSIGN_OR_RETURN(entry, cursor.Next());
  }
  return Status::Ok();
}

Result<uint64_t> Txn::VerifyCount(
    Dbi table, const std::string& name,
    const std::function<Status(std::string_view, std::string_view)>& check)
    const {
  const std::string where = env_->options().name;
  const std::string hint = env_->options().damage_hint;
  uint64_t seen = 0;
  Status scanned = Scan(
      table, "", [&](std::string_view k, std::string_view v) -> Result<bool> {
        ++seen;
        DFS_RETURN_IF_ERROR(check(k, v));
        return true;
      });
  if (!scanned.ok()) {
    if (scanned.error().code == make_error_code(Errc::kCorrupt)) {
      return Unexpected<Error>(scanned.error());
    }
    return Fail(Errc::kCorrupt, where + " is damaged: the '" + name +
                                    "' table: " + scanned.error().Message() +
                                    "; " + hint);
  }
  DFS_ASSIGN_OR_RETURN(uint64_t count, Count(table));
  if (seen != count) {
    return Fail(Errc::kCorrupt, where + " is damaged: the '" + name +
                                    "' table holds " + std::to_string(count) +
                                    " entries but " + std::to_string(seen) +
                                    " can be read; " + hint);
  }
  return seen;
}

Status Txn::Commit(const std::string& what) {
  const int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc == 0) return Status::Ok();
  // LMDB can report a full disk as EIO (a write-back that failed), so an
  // I/O error is checked against the free space where the store lives: an
  // admin must read "disk full", not "Input/output error".
  constexpr uint64_t kNearlyFullBytes = uint64_t{4} << 20;
  struct statvfs vfs {};
  if ((rc == EIO || rc == ENOSPC) &&
      ::statvfs(env_->dir().c_str(), &vfs) == 0) {
    const uint64_t free_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
    if (free_bytes < kNearlyFullBytes) {
      return Fail(Errc::kIo, what + ": the disk holding " +
                                 env_->dir().string() + " is full (" +
                                 std::to_string(free_bytes) +
                                 " bytes free); nothing was changed");
    }
  }
  return Unexpected<Error>(MakeLmdbError(rc, what));
}

// ------------------------------------------------------------ faults

namespace {
const char* g_fault_message = nullptr;
}  // namespace

void ExitCleanlyOnFault(const char* message) {
  g_fault_message = message;
  struct sigaction action {};
  action.sa_handler = [](int) {
    const char* m = g_fault_message;
    if (m != nullptr) (void)!write(2, m, std::strlen(m));
    _exit(1);
  };
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, nullptr);
}

}  // namespace dfs::lmdb
