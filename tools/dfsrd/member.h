// One dfsrd member: it keeps its copy of the replicated folder in step with
// every other member's (docs: replication/README.md, "dfsrd").
//
//   scanner   walks the folder every scan_interval against the state store
//             (a file whose stat is unchanged is not re-hashed); a file is
//             taken once it has been stable for `settle`; new versions
//             bump this member's counter in the version vector; a file
//             gone becomes a tombstone; tombstones past their lifetime go.
//   server    answers peers that prove the group key: index records by
//             sequence number, and a file's content through the delta
//             engine's sync exchange (only paths in its own index).
//   pullers   one per upstream peer: connect (with backoff), pull the
//             peer's index since the last record taken, reconcile each
//             record (repl/reconcile.h), fetch content into staging (a
//             local file with the same hash is copied instead: renames
//             and copies move no bytes; otherwise a delta against the old
//             version), check the hash, then rename into place with its
//             mtime and mode.
//
// The folder's own .dfsrd/ holds staging/ (emptied at start: a kill mid
// transfer leaves nothing visible) and conflicts/ (losing versions).
// Thread-safety: Start/Stop/Join from one thread; the rest is internal.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "claims.h"
#include "config.h"
#include "connection.h"
#include "dfs/client_net/metrics_http.h"
#include "dfs/referral/session.h"
#include "dfs/repl/reconcile.h"
#include "dfs/repl_state/state_store.h"

namespace dfs::dfsrd {

struct Counters {
  std::atomic<uint64_t> local_changes{0}, files_received{0},
      files_copied_locally{0}, bytes_received{0}, bytes_sent{0},
      content_bytes_received{0}, conflicts{0}, deletes_applied{0},
      refused_paths{0}, batched_against_old{0}, batched_whole{0},
      fetched_by_delta{0}, files_chunked{0}, signatures_reused{0};
};

class Member {
 public:
  Member(GroupConfig config, std::string key);
  ~Member();
  // Opens the state, cleans staging, listens, scans once, starts the
  // threads. Errors: the store's, kIo (cannot listen or create folders).
  Status Start();
  // Asks every thread to stop (safe from any thread) and waits for them.
  void Stop();

  const Counters& counters() const { return counters_; }
  // The counters and per-peer backlogs in Prometheus text form.
  std::string RenderMetrics();
  // The member's state as `dfsrd status --json` has it (without the
  // tombstone count: this is polled), read now; served at GET /status on
  // the metrics address.
  std::string StatusJson();
  // Every counter by its counters.json key.
  nlohmann::json CountersJson() const;
  // Where the metrics endpoint listens (empty: none).
  std::string metrics_address() const {
    return metrics_ ? metrics_->address() : std::string();
  }

 private:
  // ---- scanner
  void ScanLoop();
  Status ScanOnce();
  void CheckDirectory(const std::string& rel, const struct stat& st);
  // `closed`: the writer is known to be done (inotify said so), no need
  // to wait for `settle`.
  // False when the file is not settled yet (ask again later).
  bool CheckFile(const std::string& rel, const struct stat& st,
                 bool closed = false);
  // ---- watcher (inotify: changes are taken as they happen; the scan is
  // the safety net for a full queue and for what happened while stopped)
  void WatchLoop();
  void AddWatches(int fd, const std::filesystem::path& dir);
  // Takes `rel` as it now is: a file or folder (new or changed), or gone.
  // False when a file there is not settled yet (ask again later).
  bool CheckPath(const std::string& rel, bool closed);
  void RecordGone(const std::string& rel);
  void RecordDeletions(const std::set<std::string>& seen);
  void PurgeTombstones();
  // Removes the links in `dir` made more than `lifetime` ago (but those
  // whose file still has another name, with `keep_if_still_linked`).
  void PurgeLinks(const std::filesystem::path& dir,
                  std::chrono::seconds lifetime, bool keep_if_still_linked);
  static constexpr auto kRecentLifetime = std::chrono::minutes(10);
  // ---- server
  void ListenLoop();
  void Serve(int fd, std::string peer);
  Status ServeFile(Connection& connection, const repl::FileRequest& request);
  Status ServeBatch(Connection& connection, const repl::BatchRequest& request);
  // The content with this hash, if this member still holds it: a live
  // file, or a version kept in .dfsrd/versions. Verified.
  std::optional<std::string> ContentWithHash(const repl::Hash128& hash);
  // Where content with this hash may be here: live files, the version and
  // recently-deleted links (unverified: callers check what they read).
  std::vector<std::filesystem::path> HoldersOf(const repl::Hash128& hash);
  // `rel` mapped, if it is a live record of this member's index with this
  // hash and the file still has it. Errors: kNotFound saying why.
  Result<repl::MappedFile> OpenAnnounced(const std::string& rel,
                                         const repl::Hash128& hash);
  // Keeps a hard link to a small file's current version, so that when a
  // deploy replaces it (write aside, rename over) the old bytes are still
  // here for peers whose copies need a delta against them.
  void KeepVersion(const std::filesystem::path& file, const repl::Hash128& hash,
                   uint64_t size);
  static constexpr auto kVersionLifetime = std::chrono::hours(1);
  // ---- pullers
  void PullLoop(MemberConfig peer);
  // `rejoin_seen`: while rejoining the peer, every path its index names.
  Status PullOnce(Connection& connection, const std::string& peer,
                  bool& got_records,
                  std::unordered_set<std::string>& rejoin_seen);
  // Starts a rejoin with `peer` if the last exchange with it is older than
  // a tombstone's lifetime (at every connection either way).
  void RejoinIfStale(repl::PeerState& state, const std::string& peer);
  // A rejoin's full pull is done: what `peer` had taken of ours (up to
  // `known_seq`) and no longer names was deleted there and its tombstone
  // is gone: moved to .dfsrd/preexisting (kept, not announced).
  Status FinishRejoin(const std::string& peer, uint64_t known_seq,
                      const std::unordered_set<std::string>& seen);
  // Small files the peer's records need, fetched in batches into staging
  // ahead of applying the records: path -> staged file.
  using Prefetched = std::map<std::string, std::filesystem::path>;
  // The paths whose fetch a round claimed (FetchClaims), given up when
  // the round is done with them.
  struct RoundClaims {
    FetchClaims& claims;
    const std::string& owner;
    std::set<std::string> held;
    bool Claim(const std::string& path) {
      if (!claims.Claim(path, owner)) return false;
      held.insert(path);
      return true;
    }
    void Release(const std::string& path) {
      if (held.erase(path)) claims.Release(path, owner);
    }
    ~RoundClaims() {
      for (const auto& path : held) claims.Release(path, owner);
    }
  };
  // Paths another puller is fetching are left out (their records wait).
  Status Prefetch(Connection& connection,
                  const std::vector<repl::FileRecord>& records,
                  Prefetched& prefetched, RoundClaims& claims);
  // False when the record must wait: another puller is fetching its path.
  Result<bool> ApplyRemote(Connection& connection,
                           const repl::FileRecord& remote,
                           Prefetched& prefetched, RoundClaims& claims);
  // Builds the content of `record` in staging; the path of the result.
  Result<std::filesystem::path> Stage(
      Connection& connection, const repl::FileRecord& record,
      const std::optional<repl::FileRecord>& local, Prefetched& prefetched);
  // `sync_directory`: make the rename durable now (else the caller syncs
  // the file system once for a batch).
  Status Install(const repl::Decision& decision,
                 const std::optional<std::filesystem::path>& staged,
                 const std::optional<repl::FileRecord>& local,
                 bool sync_directory);
  Status KeepConflictCopy(const std::string& rel,
                          const repl::FileRecord& local);
  // Removes the oldest kept versions past the quota; counts what is left
  // (conflicts_kept_).
  void EnforceConflictQuota();
  // The chunks of a large local file (`data`, mapped from `rel` whose stat
  // before mapping was `before`): a kept signature while the file is
  // unchanged, else chunked now and kept.
  std::vector<repl::ChunkEntry> ChunksOf(const std::string& rel,
                                         std::span<const uint8_t> data,
                                         const repl::LocalStat& before,
                                         const repl::ChunkParams& params);
  // ---- helpers
  // The local path of `rel`, its parent folders made (refused when one of
  // them is not a plain folder: a symlink there could lead outside).
  Result<std::filesystem::path> LocalPath(const std::string& rel,
                                          bool make_parents);
  // Whether the file at `rel` is as the store last saw it (no local
  // change the scanner has not taken yet).
  Result<bool> Unchanged(const std::string& rel,
                         const std::optional<repl::FileRecord>& local);
  // Sleeps, waking early when stopping; false when stopping.
  bool SleepFor(std::chrono::milliseconds duration);
  void WriteStatusFile();

  GroupConfig config_;
  std::string key_;
  std::string self_;
  std::filesystem::path folder_, private_dir_, staging_dir_, conflicts_dir_,
      recent_dir_, versions_dir_, preexisting_dir_;
  std::unique_ptr<repl::StateStore> store_;
  // Held while a path's record and its file change together (scanner and
  // installers), never across the network.
  std::mutex apply_mutex_;
  referral::SessionKeys session_keys_;
  referral::AuthThrottle throttle_;
  std::mutex throttle_mutex_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  // Whether inotify watches every folder (else the scan runs every tick).
  std::atomic<bool> watching_{false}, unwatched_{false};
  static constexpr std::chrono::milliseconds kHousekeepingInterval{1000};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::mutex links_mutex_;
  std::set<Connection*> links_;  // open connections, shut down on Stop
  std::vector<std::thread> threads_;
  std::mutex server_threads_mutex_;
  std::vector<std::thread> server_threads_;
  std::atomic<size_t> server_connections_{0};
  std::mutex warned_mutex_;
  std::set<std::string> warned_paths_;
  // Files a scan found still being written: checked again every tick.
  std::mutex unsettled_mutex_;
  std::set<std::string> unsettled_;
  std::mutex watches_mutex_;
  std::map<int, std::string> watched_dirs_;  // inotify wd -> folder ("" top)
  std::atomic<uint64_t> staging_counter_{0};
  FetchClaims fetch_claims_;
  // Paths being chunked (ChunksOf): several peers asking for one new
  // version at once wait for one chunking and reuse its signature.
  FetchClaims chunk_claims_;
  std::atomic<uint64_t> chunk_claim_counter_{0};
  // bandwidth_kbps: every link's writes share it (null: no limit).
  std::unique_ptr<RateLimiter> send_limit_;
  Counters counters_;
  // Losing versions in conflicts_dir_, as of the last EnforceConflictQuota
  // (at start and after each one kept).
  std::atomic<uint64_t> conflicts_kept_{0};
  std::unique_ptr<client_net::MetricsHttpServer> metrics_;
};

}  // namespace dfs::dfsrd
