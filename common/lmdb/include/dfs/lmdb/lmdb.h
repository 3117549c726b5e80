// The LMDB layer every store of ours is built on (the namespace store now,
// dfsrd's replication state next): an environment opened with the checks a
// damaged file needs, transactions and cursors that clean up after
// themselves, and LMDB's return codes turned into errors an admin can act
// on. Nothing here knows what the tables hold.
//
// Damage: a data file shorter than its own pages (truncated by a full
// disk or a bad copy) is refused at open, before a read can fault with
// SIGBUS; a page LMDB cannot make sense of makes it abort, so the abort's
// last words name the store and the env's `damage_hint`;
// ExitCleanlyOnFault turns a SIGBUS (a page of the file vanished under
// us) into the same kind of message and exit 1. A walk that meets a
// broken page may end early instead of failing: VerifyCount compares what
// a walk saw with the count in LMDB's own header.
//
// Thread-safety: an Env may be shared (MDB_NOTLS: a read transaction may
// move between threads); a Txn or Cursor belongs to one thread at a time;
// one write transaction at a time per environment (LMDB's lock).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "dfs/common/error.h"
#include "dfs/common/result.h"

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace dfs::lmdb {

// LMDB's compiled-in key limit (mdb_env_get_maxkeysize).
inline constexpr size_t kMaxKeyBytes = 511;

using Dbi = unsigned int;

const std::error_category& ErrorCategory();
// An LMDB return code as an error: "what: reason", with a full map or a
// full disk said as such.
Error MakeLmdbError(int rc, const std::string& what);

struct EnvOptions {
  // What the environment is, for messages ("the namespace store").
  std::string name = "the store";
  size_t map_size_bytes = size_t{1} << 30;
  unsigned max_tables = 8;
  // Whether each commit waits for the disk (fsync). Off (MDB_NOSYNC), a
  // crash may lose the last commits but never leaves the file
  // inconsistent; Sync() flushes. For state that can be rebuilt.
  bool sync_each_commit = true;
  // Said when the file is found damaged, e.g. "check it with 'dfsutil
  // store verify' and restore it from a backup or a replica".
  std::string damage_hint = "restore it from a backup";
};

class Txn;

class Env {
 public:
  // Opens the environment in `dir` (which must exist). Errors: kCorrupt
  // (not an LMDB file, or a file shorter than its pages), kUnsupported
  // (another LMDB version), kIo.
  static Result<std::unique_ptr<Env>> Open(const std::filesystem::path& dir,
                                           const EnvOptions& options);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  Result<Txn> BeginRead() const;
  Result<Txn> BeginWrite();

  // Flushes commits to disk (with sync_each_commit off).
  Status Sync();
  // Whether the data file still holds every page the environment uses
  // (kCorrupt naming the file when not).
  Status CheckFileSize() const;
  // Bytes of the map in use, and bytes the data file takes on disk.
  uint64_t UsedBytes() const;
  uint64_t FileBytes() const;
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path data_file() const { return dir_ / "data.mdb"; }
  const EnvOptions& options() const { return options_; }

 private:
  Env(std::filesystem::path dir, EnvOptions options);
  Result<Txn> Begin(bool writable) const;

  MDB_env* env_ = nullptr;
  std::filesystem::path dir_;
  EnvOptions options_;
};

struct Entry {
  std::string_view key, value;
};

// A cursor over one table of a transaction; closed on destruction. The
// views it returns stay valid until the transaction ends (or, in a write
// transaction, the next write).
class Cursor {
 public:
  Cursor(Cursor&& other) noexcept;
  Cursor& operator=(Cursor&&) = delete;
  ~Cursor();
  // Nothing at the end. Errors: the store's (kIo, or kCorrupt).
  Result<std::optional<Entry>> First();
  // The first entry whose key is >= `key`.
  Result<std::optional<Entry>> Seek(std::string_view key);
  Result<std::optional<Entry>> Next();
  // Deletes the current entry; the cursor then stands on the one after
  // (Current reads it).
  Status DeleteCurrent();
  Result<std::optional<Entry>> Current();

 private:
  friend class Txn;
  explicit Cursor(MDB_cursor* cursor) : cursor_(cursor) {}
  Result<std::optional<Entry>> Move(int op, std::string_view key);
  MDB_cursor* cursor_;
};

// A transaction: aborted on destruction unless committed.
class Txn {
 public:
  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&& other) noexcept;
  ~Txn();

  bool writable() const { return writable_; }

  // A named table; nothing when it does not exist and `create` is false
  // (create needs a write transaction). The handle outlives this
  // transaction only if it commits (a read transaction may commit too).
  Result<std::optional<Dbi>> OpenTable(const char* name, bool create);
  // The unnamed main table's entry count (an empty environment has none).
  Result<uint64_t> MainTableEntries();

  // Nothing when absent, or when `key` could not be a key (empty, longer
  // than kMaxKeyBytes).
  Result<std::optional<std::string_view>> Get(Dbi table,
                                              std::string_view key) const;
  // Errors: kLimitExceeded (an empty key or one over kMaxKeyBytes),
  // the store's.
  Status Put(Dbi table, std::string_view key, std::string_view value);
  // Deleting what is not there is no error.
  Status Delete(Dbi table, std::string_view key);
  Status DeletePrefix(Dbi table, std::string_view prefix);
  // Deletes from the first entry on while `keep_going(key)` says so.
  Status DeleteFromStartWhile(
      Dbi table, const std::function<bool(std::string_view)>& keep_going);
  // Empties the table.
  Status Clear(Dbi table);
  // The entry count in LMDB's header for the table.
  Result<uint64_t> Count(Dbi table) const;
  Result<Cursor> OpenCursor(Dbi table) const;

  // Calls `visit(key, value)` for every entry whose key starts with
  // `prefix`, in key order, until it returns false or an error.
  Status Scan(Dbi table, std::string_view prefix,
              const std::function<Result<bool>(std::string_view,
                                               std::string_view)>& visit) const;
  // Scan, then compare what was seen with Count: a walk that meets a
  // broken page may end early instead of failing (kCorrupt says so).
  Result<uint64_t> VerifyCount(
      Dbi table, const std::string& name,
      const std::function<Status(std::string_view, std::string_view)>& check)
      const;

  // Commits (the transaction ends whatever the outcome). A full disk is
  // said as such, also when LMDB reports it as EIO.
  Status Commit(const std::string& what);
  void Abort();

 private:
  friend class Env;
  Txn(MDB_txn* txn, bool writable, const Env* env)
      : txn_(txn), writable_(writable), env_(env) {}
  MDB_txn* txn_;
  bool writable_;
  const Env* env_;
};

// Installs a SIGBUS handler that writes `message` to stderr and exits 1
// (a page of a mapped store vanished: a truncated file). For tools and
// daemons whose only mapped files are stores; `message` must live for the
// process.
void ExitCleanlyOnFault(const char* message);

}  // namespace dfs::lmdb
