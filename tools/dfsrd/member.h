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
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "connection.h"
#include "dfs/referral/session.h"
#include "dfs/repl/reconcile.h"
#include "dfs/repl_state/state_store.h"

namespace dfs::dfsrd {

struct Counters {
  std::atomic<uint64_t> local_changes{0}, files_received{0},
      files_copied_locally{0}, bytes_received{0}, bytes_sent{0},
      content_bytes_received{0}, conflicts{0}, deletes_applied{0},
      refused_paths{0};
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

 private:
  // ---- scanner
  void ScanLoop();
  Status ScanOnce();
  void CheckDirectory(const std::string& rel, const struct stat& st);
  void CheckFile(const std::string& rel, const struct stat& st);
  void RecordDeletions(const std::set<std::string>& seen);
  void PurgeTombstones();
  // ---- server
  void ListenLoop();
  void Serve(int fd, std::string peer);
  Status ServeFile(Connection& connection, const repl::FileRequest& request);
  // ---- pullers
  void PullLoop(MemberConfig peer);
  Status PullOnce(Connection& connection, const std::string& peer,
                  bool& got_records);
  Status ApplyRemote(Connection& connection, const repl::FileRecord& remote);
  // Builds the content of `record` in staging; the path of the result.
  Result<std::filesystem::path> Stage(
      Connection& connection, const repl::FileRecord& record,
      const std::optional<repl::FileRecord>& local);
  Status Install(const repl::Decision& decision,
                 const std::optional<std::filesystem::path>& staged,
                 const std::optional<repl::FileRecord>& local);
  Status KeepConflictCopy(const std::string& rel,
                          const repl::FileRecord& local);
  void EnforceConflictQuota();
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
  std::filesystem::path folder_, private_dir_, staging_dir_, conflicts_dir_;
  std::unique_ptr<repl::StateStore> store_;
  // Held while a path's record and its file change together (scanner and
  // installers), never across the network.
  std::mutex apply_mutex_;
  referral::SessionKeys session_keys_;
  referral::AuthThrottle throttle_;
  std::mutex throttle_mutex_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  std::mutex links_mutex_;
  std::set<Connection*> links_;  // open connections, shut down on Stop
  std::vector<std::thread> threads_;
  std::mutex server_threads_mutex_;
  std::vector<std::thread> server_threads_;
  std::atomic<size_t> server_connections_{0};
  std::set<std::string> warned_paths_;  // scanner thread only
  std::atomic<uint64_t> staging_counter_{0};
  Counters counters_;
};

}  // namespace dfs::dfsrd
