// A dfsrd member's state, in LMDB (dfs/lmdb/lmdb.h) in its state_dir: a
// record per path (replication/index.h: version vector, content hash,
// size, mtime, mode, tombstone), the member's own sequence numbers (every
// record it stores, whether changed here or taken from a peer, gets the
// next one, so peers pull exactly what they lack), per local file the
// stat it had when last hashed (inode, size, mtime, ctime: an unchanged
// file is never re-hashed, not even after a restart), a content-hash index
// (a renamed or copied file is found locally, not fetched), and per peer
// how far this member has pulled its index. Layout: replication/FORMAT.md.
// Thread-safety: safe from several threads (each call is one LMDB
// transaction; writers are serialised by LMDB).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/repl/index.h"
#include "dfs/repl/signature.h"

namespace dfs::lmdb {
class Env;
class Txn;
}  // namespace dfs::lmdb

namespace dfs::repl {

inline constexpr uint32_t kStateSchemaVersion = 1;

struct LocalStat {
  uint64_t inode = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const LocalStat&) const = default;
};

struct PeerState {
  uint64_t pulled_seq = 0;  // their records up to here are taken
  uint64_t high_seq = 0;    // their latest, at the last contact
  int64_t last_contact_ms = 0;
  // How far they have pulled ours, as they last asked.
  uint64_t served_seq = 0;
  int64_t last_served_ms = 0;
  // Out of contact for longer than a tombstone lives: their whole index
  // is being taken again; ours up to `rejoin_known_seq` they had taken
  // before (what of it they no longer know, they deleted).
  // And theirs we had taken (up to `rejoin_pulled_seq`) and no longer
  // know, we deleted: not brought back.
  bool rejoining = false;
  uint64_t rejoin_known_seq = 0, rejoin_pulled_seq = 0;

  // Records they have that we have not taken, and ours (up to `our_high`)
  // they have not: sequence distances, an upper bound as later records
  // replace earlier ones.
  uint64_t BacklogIn() const {
    return high_seq > pulled_seq ? high_seq - pulled_seq : 0;
  }
  uint64_t BacklogOut(uint64_t our_high) const {
    return our_high > served_seq ? our_high - served_seq : 0;
  }
  // The last exchange either way (0: never).
  int64_t LastContactMs() const {
    return last_contact_ms > last_served_ms ? last_contact_ms : last_served_ms;
  }
  // Out of contact for longer than a tombstone lives (`lifetime_ms`): what
  // they deleted meanwhile may be forgotten on their side, so their whole
  // index is to be taken again (and ours they had taken, and no longer
  // know, was deleted there). False for a peer never met.
  bool OutOfContactLongerThan(int64_t now_ms, int64_t lifetime_ms) const {
    const int64_t last = LastContactMs();
    return last != 0 && now_ms - last > lifetime_ms;
  }
  // Starts a rejoin (kept across restarts until FinishRejoin).
  void BeginRejoin() {
    if (!rejoining) {
      rejoin_known_seq = served_seq;
      rejoin_pulled_seq = pulled_seq;
    }
    rejoining = true;
    pulled_seq = 0;
  }
};

// What a peer has not taken of this member's records (PendingAfter).
struct Pending {
  // Records stored here after the peer's last pull: exact (each path
  // counts once, at its latest sequence number) when `complete`, else the
  // count stopped at the limit asked for.
  uint64_t records = 0;
  bool complete = true;
  // When the oldest of them was stored here (wall-clock ms); nothing when
  // there are none, or the store predates the time being kept.
  std::optional<int64_t> oldest_recorded_ms;
};

class StateStore {
 public:
  // Creates the folder and the store when missing. A store made for
  // another group or member is refused (kConflict).
  static Result<std::unique_ptr<StateStore>> Open(
      const std::filesystem::path& dir, const std::string& group,
      const std::string& member);
  // Opens an existing store to read (dfsrd status). Errors: kNotFound.
  static Result<std::unique_ptr<StateStore>> OpenForReading(
      const std::filesystem::path& dir);
  ~StateStore();

  const std::string& member() const { return member_; }
  const std::string& group() const { return group_; }

  Result<std::optional<FileRecord>> Get(const std::string& path) const;
  // Stores `record` under this member's next sequence number (returned,
  // and set in the stored record), with the stat of the local file as it
  // is now (nothing: no local file, e.g. a tombstone).
  Result<uint64_t> Put(FileRecord record, std::optional<LocalStat> stat);
  // A path's record and the stat its file had when last hashed, read at
  // once (the scanner asks this of every file it walks).
  Result<std::pair<std::optional<FileRecord>, std::optional<LocalStat>>>
  GetWithStat(const std::string& path) const;
  // The stat a file had when it was last hashed.
  Result<std::optional<LocalStat>> GetStat(const std::string& path) const;
  // A file whose stat changed but not its content (a touch).
  Status PutStat(const std::string& path, const LocalStat& stat);
  // Forgets a path entirely (a tombstone past its lifetime).
  Status Remove(const std::string& path);

  // The chunk list of a large local file, valid while the file's stat is
  // `stat` (kept so that a file served to several peers, or again after a
  // restart, is chunked once). A new record for the path drops it.
  Status PutSignature(const std::string& path, const LocalStat& stat,
                      const ChunkParams& params,
                      const std::vector<ChunkEntry>& chunks);
  // Nothing when none is kept for this stat and these params.
  Result<std::optional<std::vector<ChunkEntry>>> GetSignature(
      const std::string& path, const LocalStat& stat,
      const ChunkParams& params) const;

  // Records with seq > `since`, in seq order, at most `max`.
  Result<std::vector<FileRecord>> Since(uint64_t since, size_t max) const;
  // The same with the latest sequence number, read at the same instant
  // (what a peer is answered: its records never pass its high_seq).
  Result<std::pair<uint64_t, std::vector<FileRecord>>> SinceWithHigh(
      uint64_t since, size_t max) const;
  Result<uint64_t> HighSeq() const;
  // The records with seq > `since` (what a peer that pulled up to `since`
  // lacks), counted up to `count_limit`, and when the oldest was stored.
  Result<Pending> PendingAfter(uint64_t since, uint64_t count_limit) const;
  // Live files with this content.
  Result<std::vector<std::string>> PathsWithHash(const Hash128& hash) const;
  // Every record, in path order, until `visit` returns false (read in
  // pieces: records written meanwhile may or may not be seen).
  Status ForEach(const std::function<bool(const FileRecord&)>& visit) const;
  // Every record below the folder `dir` (not `dir` itself).
  Status ForEachUnder(
      const std::string& dir,
      const std::function<bool(const FileRecord&)>& visit) const;
  Result<uint64_t> RecordCount() const;
  // Commits do not wait for the disk (a crash loses at most the records
  // since the last Sync, which the next scan rebuilds from the folder:
  // installs themselves are atomic and synced); dfsrd syncs every scan.
  Status Sync();

  Result<PeerState> Peer(const std::string& name) const;
  // Reads, changes and writes a peer's state in one transaction (the
  // puller and the server of a member both update it).
  Status UpdatePeer(const std::string& name,
                    const std::function<void(PeerState&)>& change);

 private:
  StateStore() = default;
  // Opens (or with `create`, creates) every table in `txn`.
  Status OpenTables(lmdb::Txn& txn, const std::filesystem::path& dir,
                    bool create);
  Status ForEachUnderPrefix(
      const std::string& prefix,
      const std::function<bool(const FileRecord&)>& visit) const;
  struct Tables;
  std::unique_ptr<lmdb::Env> env_;
  std::unique_ptr<Tables> tables_;
  std::string group_, member_;
};

}  // namespace dfs::repl
