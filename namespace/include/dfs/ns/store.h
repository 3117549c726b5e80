// The namespace store: one LMDB environment in a folder.
//
// Every change is one write transaction that applies a list of mutations,
// bumps the serial number and appends one change-log entry keyed by that
// serial, so a follower (NamespaceIndex::CatchUp here, a replica server
// later) can pull exactly what it is missing. Several processes may open
// one store at once: LMDB serialises writers across processes and every
// reader works on a consistent snapshot. The on-disk layout and schema
// version are in namespace/FORMAT.md; a store of another schema, or a
// folder holding something else, is refused with a clear error.
//
// Thread-safety: a Store may be used from several threads at once: each
// Update is its own transaction and each Snapshot its own read transaction
// (the environment is opened with MDB_NOTLS).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "dfs/common/clock.h"
#include "dfs/common/result.h"
#include "dfs/ns/codec.h"
#include "dfs/ns/index.h"
#include "dfs/ns/namespace.h"

namespace dfs::ns {

inline constexpr uint32_t kStoreSchemaVersion = 1;

struct StoreOptions {
  // Create the folder and an empty store when there is none.
  bool create_if_missing = false;
  // The most the database may grow to. LMDB reserves this much address
  // space, not disk: the file grows only as data is written.
  size_t map_size_bytes = size_t{16} << 30;
  // How many change-log entries to keep; a follower further behind reloads
  // everything.
  uint64_t change_log_keep = 100000;
  const Clock* clock = &SystemClock::Instance();
  // Verify() the whole store when opening it (an existing one): a damaged
  // store is refused up front rather than read in part. Costs one walk of
  // every table (tens of ms at 100,000 folders).
  bool verify_on_open = true;
};

// What Verify() read: every table walked to its end, entries counted
// against LMDB's own counts, every record decoded, every folder's root
// present.
struct StoreReport {
  uint64_t serial = 0;
  uint64_t roots = 0, folders = 0, aliases = 0, log_entries = 0, sites = 0;
};

struct StoreStats {
  uint64_t serial = 0;
  uint64_t roots = 0, folders = 0, aliases = 0, log_entries = 0;
  uint64_t oldest_logged_serial = 0;  // 0 when the log is empty
  uint64_t used_bytes = 0;            // pages in use times the page size
  uint64_t file_bytes = 0;            // data.mdb as allocated on disk
};

// For processes whose only mapped file is the store (dfsutil, dfsd): a
// read of a page the file does not have (damage that passes the size check
// on open: a page number overwritten with garbage) raises SIGBUS; this
// turns it into a one-line message naming the damage and exit status 1
// instead of a bare "Bus error". LMDB commits atomically, so nothing was
// half changed.
void ExitCleanlyOnStoreFault();

class Store {
 public:
  // Errors: kNotFound (no store and !create_if_missing), kCorrupt (not
  // an LMDB file, or not a dfs namespace store), kUnsupported (another
  // schema version), kIo / kStorage otherwise.
  static Result<std::unique_ptr<Store>> Open(const std::filesystem::path& dir,
                                             const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `change` in one write transaction. When it returns OK and applied
  // at least one mutation, the transaction commits with the next serial and
  // one log entry described by `description`; the new serial is returned.
  // When it fails, or the commit fails (the disk is full, the map is full),
  // nothing changes and the error is returned. `change` must not block on
  // other stores: the writer lock is held while it runs.
  Result<uint64_t> Update(
      std::string_view description,
      const std::function<Status(NamespaceWriter&)>& change);

  // A consistent read-only view, valid while the returned object lives.
  Result<std::unique_ptr<NamespaceReader>> Snapshot() const;

  Result<uint64_t> Serial() const;

  // Log entries with serial > `since`, oldest first, at most `max_entries`.
  // Fails with kNeedResync when entries after `since` were trimmed.
  Result<std::vector<ChangeEntry>> ChangesSince(uint64_t since,
                                                size_t max_entries) const;

  // Replaces `index` with the whole namespace (one snapshot).
  Status LoadInto(NamespaceIndex& index) const;
  // Brings `index` up to the store's serial: replays the log, or reloads
  // when the log cannot bridge the gap. Returns whether anything changed.
  // With `allow_reload` false a needed reload is not done but reported as
  // kNeedResync (a server then reloads off its serving thread).
  Result<bool> CatchUp(NamespaceIndex& index, bool allow_reload = true) const;

  // Replication (a second namespace server keeping its own copy).
  //
  // A replica store records its primary and refuses Update: changes are
  // made on the primary and arrive through ApplyReplicated / ReplaceWith.
  Status MarkReplicaOf(std::string_view primary);
  Result<std::optional<std::string>> ReplicaOf() const;
  // Applies one entry of the primary's log, keeping its serial, which must
  // be exactly this store's serial + 1 (else kConflict). Entries flagged
  // resync_required cannot be applied (kNeedResync): fetch a snapshot.
  Status ApplyReplicated(const ChangeEntry& entry);
  // Replaces the whole namespace with `snapshot` (Put mutations at
  // `snapshot.serial`) in one transaction; the local log restarts there.
  Status ReplaceWith(const ChangeEntry& snapshot);

  // A mirror of a namespace kept elsewhere (a domain namespace in etcd):
  // the store is marked a replica of it (MarkReplicaOf) and records the
  // source's revision it holds, which only grows. ApplyMirrored applies
  // one source change (its serial is this store's next; the source's
  // revisions need not be consecutive) and ReplaceWithMirror the whole
  // namespace, each with the source revision in the same transaction.
  // Errors: kConflict (`source_revision` not above the one held), the
  // store's.
  Status ApplyMirrored(std::string_view description,
                       const std::vector<Mutation>& mutations,
                       uint64_t source_revision);
  Status ReplaceWithMirror(const std::vector<Mutation>& puts,
                           uint64_t source_revision);
  // The source revision this store holds (0: none yet).
  Result<uint64_t> SourceRevision() const;
  // The whole namespace as Put mutations at one serial, for a replica.
  Result<ChangeEntry> SnapshotEntry() const;

  Result<StoreStats> Stats() const;
  // Reads the whole store and checks it is whole. Errors: kCorrupt naming
  // the damage (a table that yields fewer entries than it holds, a record
  // that does not decode, a folder without its root, a truncated file).
  // A store damaged past what LMDB survives (zeroed pages) may make LMDB
  // abort; the message then names the store first (run `dfsutil store
  // verify`, which checks in a child process, to be told instead).
  Result<StoreReport> Verify() const;
  const std::filesystem::path& dir() const;

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfs::ns
