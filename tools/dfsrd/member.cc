#include "member.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "dfs/common/atomic_file.h"
#include "dfs/common/clock.h"
#include "dfs/common/error.h"
#include "dfs/common/metrics_http.h"
#include "dfs/common/prometheus_text.h"
#include "dfs/referral_net/peer_link.h"
#include "dfs/repl/compress.h"
#include "dfs/repl/files.h"
#include "dfs/repl/sync.h"
#include "status.h"

namespace dfs::dfsrd {

namespace fs = std::filesystem;
using referral::Frame;
using referral::FrameType;
using repl::FileRecord;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxServerConnections = 64;
// A batch request is paths and hashes: 512 of them fit in far less.
constexpr size_t kMaxBatchRequestBytes = size_t{1} << 20;
constexpr size_t kMaxIndexReplyBytes = size_t{16} << 20;
constexpr size_t kStrongCompressionBytes = 64 * 1024;
constexpr auto kMinBackoff = std::chrono::milliseconds(200);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

int64_t NowMillis() { return UnixMillis(); }

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

repl::LocalStat StatOf(const struct stat& st) {
  return repl::LocalStat{
      static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
      MtimeNs(st),
      int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec};
}

Result<repl::Hash128> HashFile(const fs::path& path) {
  DFS_ASSIGN_OR_RETURN(repl::MappedFile file, repl::MappedFile::Open(path));
  return repl::HashBytes(file.data());
}

Status SetTimesAndMode(const fs::path& path, const FileRecord& record) {
  if (::chmod(path.c_str(), record.mode & 07777) != 0) {
    return Fail(Errc::kIo,
                "chmod " + path.string() + ": " + std::strerror(errno));
  }
  timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_sec = record.mtime_ns / 1'000'000'000;
  times[1].tv_nsec = record.mtime_ns % 1'000'000'000;
  if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return Fail(Errc::kIo, "setting the time of " + path.string() + ": " +
                               std::strerror(errno));
  }
  return Status::Ok();
}

// One sync of the whole file system holding `path`: cheaper than a sync a
// file when a batch installs hundreds.
void SyncFileSystemOf(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
}

Status Recorded(const Result<uint64_t>& put) {
  return put ? Status::Ok() : Status(put.error());
}

std::string Describe(const FileRecord& r) {
  return r.deleted ? "a deletion" : r.is_dir ? "a folder" : "a file";
}

}  // namespace

Member::Member(GroupConfig config, std::string key)
    : config_(std::move(config)), key_(std::move(key)) {
  self_ = config_.member;
  folder_ = config_.self().folder;
  private_dir_ = folder_ / std::string(repl::kPrivateFolder);
  staging_dir_ = private_dir_ / "staging";
  conflicts_dir_ = private_dir_ / "conflicts";
  recent_dir_ = private_dir_ / "recent";
  versions_dir_ = private_dir_ / "versions";
  preexisting_dir_ = private_dir_ / "preexisting";
  if (config_.bandwidth_kbps > 0) {
    send_limit_ = std::make_unique<RateLimiter>(config_.bandwidth_kbps);
  }
  session_keys_.content_key = key_;
}

Member::~Member() { Stop(); }

Status Member::Start() {
  std::error_code ec;
  if (!fs::is_directory(folder_, ec)) {
    return Fail(Errc::kNotFound,
                "the replicated folder " + folder_.string() + " is missing");
  }
  // A transfer cut short (SIGKILL, power loss) left at most a staging file:
  // nothing of it was ever visible in the folder.
  fs::remove_all(staging_dir_, ec);
  fs::remove_all(recent_dir_, ec);
  fs::create_directories(staging_dir_, ec);
  if (!ec) fs::create_directories(recent_dir_, ec);
  if (!ec) fs::create_directories(versions_dir_, ec);
  if (!ec) fs::create_directories(conflicts_dir_, ec);
  if (ec) {
    return Fail(Errc::kIo,
                "cannot create " + private_dir_.string() + ": " + ec.message());
  }
  DFS_ASSIGN_OR_RETURN(
      store_, repl::StateStore::Open(config_.state_dir, config_.group, self_));
  // Counts what the conflicts folder holds (the status reports it), and
  // holds it to the quota should that have shrunk.
  EnforceConflictQuota();
  // Listen before the first scan, so peers can connect while it runs.
  const std::string& address = config_.self().address;
  DFS_ASSIGN_OR_RETURN(sockaddr_in sa, ParseAddress(address));
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    return Fail(Errc::kIo,
                "cannot listen on " + address + ": " + std::strerror(errno));
  }
  DFS_RETURN_IF_ERROR(ScanOnce());
  DFS_ASSIGN_OR_RETURN(uint64_t high, store_->HighSeq());
  DFS_ASSIGN_OR_RETURN(uint64_t records, store_->RecordCount());
  spdlog::info(
      "DFSR3000 member {} of group {} serving {} on {} ({} records, sequence "
      "{}); pulling from {} peer(s)",
      self_, config_.group, folder_.string(), address, records, high,
      config_.Upstreams().size());
  if (!config_.metrics.empty()) {
    DFS_ASSIGN_OR_RETURN(
        metrics_,
        client_net::MetricsHttpServer::Start(
            config_.metrics, [this] { return RenderMetrics(); },
            [this](std::string_view request) -> std::optional<std::string> {
              if (!RequestsPath(request, "/status")) return {};
              return JsonHttpResponse(StatusJson());
            }));
  }
  threads_.emplace_back([this] { ListenLoop(); });
  threads_.emplace_back([this] { ScanLoop(); });
  threads_.emplace_back([this] { WatchLoop(); });
  for (const MemberConfig& peer : config_.Upstreams()) {
    threads_.emplace_back([this, peer] { PullLoop(peer); });
  }
  return Status::Ok();
}

void Member::Stop() {
  if (stopping_.exchange(true)) {
    // Second call (the destructor): the threads are already joined.
    return;
  }
  { std::lock_guard lock(stop_mutex_); }
  stop_cv_.notify_all();
  if (send_limit_) send_limit_->Cancel();
  {
    std::lock_guard lock(links_mutex_);
    for (Connection* c : links_) c->Shutdown();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::vector<std::thread> servers;
  {
    std::lock_guard lock(server_threads_mutex_);
    servers.swap(server_threads_);
  }
  for (auto& t : servers) {
    if (t.joinable()) t.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  if (store_) {
    (void)store_->Sync();
    WriteStatusFile();
    // Index replies and batches come and go in megabytes: give the freed
    // memory back rather than keep the peak.
    ::malloc_trim(0);
  }
}

bool Member::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
  return !stopping_;
}

// ------------------------------------------------------------ scanner

void Member::PurgeLinks(const fs::path& dir, std::chrono::seconds lifetime,
                        bool keep_if_still_linked) {
  // An entry's ctime is when it was linked there (the unlink or rename of
  // its other name that follows moves it again).
  const int64_t cutoff =
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch() - lifetime)
          .count();
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec);
       it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || st.st_ctim.tv_sec >= cutoff) {
      continue;
    }
    if (keep_if_still_linked && st.st_nlink > 1) continue;
    fs::remove(it->path(), ec);
  }
}

void Member::ScanLoop() {
  // Housekeeping every tick; the full walk only every scan_interval while
  // inotify watches every folder (it costs an lstat and a state read per
  // file: a second of CPU at 100,000 files), every tick when it does not.
  const auto tick = std::min(config_.scan_interval, kHousekeepingInterval);
  auto last_scan = SteadyClock::now();
  while (SleepFor(tick)) {
    std::set<std::string> unsettled;
    {
      std::lock_guard lock(unsettled_mutex_);
      unsettled.swap(unsettled_);
    }
    for (const std::string& rel : unsettled) {
      if (!CheckPath(rel, /*closed=*/false)) {
        std::lock_guard lock(unsettled_mutex_);
        unsettled_.insert(rel);
      }
    }
    PurgeLinks(recent_dir_, kRecentLifetime, /*keep_if_still_linked=*/false);
    // A version some live file still has costs nothing (the same inode);
    // one replaced long ago goes.
    PurgeLinks(versions_dir_, kVersionLifetime, /*keep_if_still_linked=*/true);
    if (!watching_ || SteadyClock::now() - last_scan >= config_.scan_interval) {
      last_scan = SteadyClock::now();
      Status scanned = ScanOnce();
      if (!scanned.ok()) {
        spdlog::error("DFSR3011 scanning {} failed: {}", folder_.string(),
                      scanned.error().Message());
      }
    }
    (void)store_->Sync();
    WriteStatusFile();
    // Index replies and batches come and go in megabytes: give the freed
    // memory back rather than keep the peak.
    ::malloc_trim(0);
  }
}

Status Member::ScanOnce() {
  std::set<std::string> seen;
  bool complete = true;
  std::error_code ec;
  auto it = fs::recursive_directory_iterator(
      folder_, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    return Fail(Errc::kIo,
                "cannot read " + folder_.string() + ": " + ec.message());
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      // A folder vanished under us: this round cannot tell deletions.
      complete = false;
      ec.clear();
      continue;
    }
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (it.depth() == 0 && name == repl::kPrivateFolder) {
      it.disable_recursion_pending();
      continue;
    }
    if (config_.Filtered(name)) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string rel = path.lexically_relative(folder_).generic_string();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      complete = false;
      continue;
    }
    Status valid = repl::ValidateRelativePath(rel);
    if (!valid.ok() || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
      std::lock_guard warned(warned_mutex_);
      if (warned_paths_.insert(rel).second) {
        spdlog::warn("DFSR3012 not replicating {}: {}", rel,
                     valid.ok() ? "not a regular file or folder (symlinks "
                                  "and special files are skipped)"
                                : valid.error().context);
      }
      if (S_ISDIR(st.st_mode)) it.disable_recursion_pending();
      continue;
    }
    seen.insert(rel);
    if (S_ISDIR(st.st_mode)) {
      CheckDirectory(rel, st);
    } else if (!CheckFile(rel, st)) {
      // Written a moment ago (before dfsrd started, or while inotify
      // could not tell): looked at again every tick until it settles,
      // not at the next full scan.
      std::lock_guard lock(unsettled_mutex_);
      unsettled_.insert(rel);
    }
  }
  if (complete) RecordDeletions(seen);
  PurgeTombstones();
  return Status::Ok();
}

void Member::CheckDirectory(const std::string& rel, const struct stat& st) {
  std::lock_guard lock(apply_mutex_);
  auto record = store_->Get(rel);
  if (!record) return;
  if (*record && (*record)->is_dir && !(*record)->deleted) return;
  FileRecord r = record->value_or(FileRecord{});
  r.path = rel;
  r.version.Bump(self_, NowMillis() / 1000);
  r.deleted = false;
  r.is_dir = true;
  r.hash = {};
  r.size = 0;
  r.mtime_ns = 0;  // a folder's mtime moves with its content: not ours
  r.mode = st.st_mode & 07777;
  r.deleted_at_ms = 0;
  r.modified_by = self_;
  r.resolved_conflict = false;
  if (store_->Put(r, std::nullopt)) ++counters_.local_changes;
}

bool Member::CheckFile(const std::string& rel, const struct stat& st,
                       bool closed) {
  const repl::LocalStat now = StatOf(st);
  {
    std::lock_guard lock(apply_mutex_);
    auto both = store_->GetWithStat(rel);
    if (!both) return true;
    const auto& [record, known] = *both;
    if (record && !record->deleted && !record->is_dir && known &&
        *known == now) {
      return true;  // unchanged since it was last hashed
    }
  }
  // Still being written? Take it once it has been still for `settle`.
  const int64_t age_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() -
      // ctime, not only mtime: a tool that writes a temp file sets its
      // mtime to the source's (old) one, but the ctime says it is fresh.
      std::max(now.mtime_ns, now.ctime_ns);
  if (!closed && age_ns < std::chrono::duration_cast<std::chrono::nanoseconds>(
                              config_.settle)
                              .count()) {
    return false;
  }
  const fs::path path = folder_ / rel;
  auto hash = HashFile(path);  // outside the lock: files may be large
  if (!hash) return true;      // gone or unreadable: the next round says
  std::lock_guard lock(apply_mutex_);
  struct stat again {};
  if (::lstat(path.c_str(), &again) != 0 || !(StatOf(again) == now))
    return true;
  auto record = store_->Get(rel);
  if (!record) return true;
  const uint32_t mode = st.st_mode & 07777;
  // A web server's Last-Modified and ETag come from the mtime: a new mtime
  // is a new version too (its peers move no bytes for it).
  if (*record && !(*record)->deleted && !(*record)->is_dir &&
      (*record)->hash == *hash && (*record)->size == now.size &&
      (*record)->mode == mode && (*record)->mtime_ns == now.mtime_ns) {
    (void)store_->PutStat(rel, now);  // moved or re-linked, not changed
    return true;
  }
  FileRecord r = record->value_or(FileRecord{});
  r.path = rel;
  r.version.Bump(self_, NowMillis() / 1000);
  r.deleted = false;
  r.is_dir = false;
  r.hash = *hash;
  r.size = now.size;
  r.mtime_ns = now.mtime_ns;
  r.mode = mode;
  r.deleted_at_ms = 0;
  r.modified_by = self_;
  r.resolved_conflict = false;
  // The version link first: making it moves the file's ctime, which the
  // stored stat must include.
  KeepVersion(path, r.hash, r.size);
  repl::LocalStat linked = now;
  if (::lstat(path.c_str(), &again) == 0) linked = StatOf(again);
  if (store_->Put(r, linked)) {
    ++counters_.local_changes;
    spdlog::debug("DFSR3010 local change: {}", rel);
  }
  return true;
}

void Member::RecordDeletions(const std::set<std::string>& seen) {
  std::vector<std::string> gone;
  (void)store_->ForEach([&](const FileRecord& r) {
    if (!r.deleted && !seen.contains(r.path) &&
        !config_.Filtered(fs::path(r.path).filename().string())) {
      gone.push_back(r.path);
    }
    return true;
  });
  // Children first: a folder's deletion is announced after its content's.
  std::sort(gone.rbegin(), gone.rend());
  for (const std::string& rel : gone) RecordGone(rel);
}

void Member::RecordGone(const std::string& rel) {
  std::lock_guard lock(apply_mutex_);
  struct stat st {};
  if (::lstat((folder_ / rel).c_str(), &st) == 0) return;  // installed since
  auto record = store_->Get(rel);
  if (!record || !*record || (*record)->deleted) return;
  FileRecord r = **record;
  r.version.Bump(self_, NowMillis() / 1000);
  r.deleted = true;
  r.deleted_at_ms = NowMillis();
  r.hash = {};
  r.size = 0;
  r.modified_by = self_;
  r.resolved_conflict = false;
  if (store_->Put(r, std::nullopt)) {
    ++counters_.local_changes;
    spdlog::debug("DFSR3010 local deletion: {}", rel);
  }
}

// ------------------------------------------------------------ watcher

namespace {
constexpr uint32_t kWatchEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                  IN_CREATE | IN_DELETE | IN_ATTRIB |
                                  IN_DELETE_SELF | IN_MOVE_SELF;
}  // namespace

void Member::AddWatches(int fd, const fs::path& dir) {
  std::error_code ec;
  auto add = [&](const fs::path& path) {
    const std::string rel =
        path == folder_ ? ""
                        : path.lexically_relative(folder_).generic_string();
    const int wd = inotify_add_watch(
        fd, path.c_str(), kWatchEvents | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd >= 0) {
      std::lock_guard lock(watches_mutex_);
      watched_dirs_[wd] = rel;
    } else if (unwatched_.exchange(true) == false) {
      // Out of watches (fs.inotify.max_user_watches): a folder left
      // unwatched is found by scanning every second instead.
      spdlog::warn("DFSR3013 cannot watch {} ({}): scanning every second",
                   path.string(), std::strerror(errno));
    }
  };
  add(dir);
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    const bool private_folder =
        it->path().parent_path() == folder_ && name == repl::kPrivateFolder;
    if (private_folder || config_.Filtered(name) || it->is_symlink(ec) ||
        !it->is_directory(ec)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    add(it->path());
  }
}

bool Member::CheckPath(const std::string& rel, bool closed) {
  if (!repl::ValidateRelativePath(rel).ok()) return true;  // the scan warns
  const fs::path path = folder_ / rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    // Gone: it and everything recorded below it, children first. (A
    // name never recorded, such as an editor's or rsync's temp file, is
    // nothing to announce.)
    auto record = store_->Get(rel);
    if (!record || !*record || (*record)->deleted) return true;
    std::vector<std::string> below;
    if ((*record)->is_dir) {
      (void)store_->ForEachUnder(rel, [&](const FileRecord& r) {
        if (!r.deleted) below.push_back(r.path);
        return true;
      });
    }
    std::sort(below.rbegin(), below.rend());
    for (const auto& child : below) RecordGone(child);
    RecordGone(rel);
    return true;
  }
  if (S_ISREG(st.st_mode)) return CheckFile(rel, st, closed);
  if (S_ISDIR(st.st_mode)) CheckDirectory(rel, st);
  return true;
}

void Member::WatchLoop() {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn(
        "DFSR3013 no inotify ({}): changes are found by a scan every {} ms",
        std::strerror(errno),
        std::min(config_.scan_interval, kHousekeepingInterval).count());
    return;
  }
  AddWatches(fd, folder_);
  watching_ = !unwatched_;
  alignas(inotify_event) char buffer[64 * 1024];
  // Files written (or created, or touched), taken a moment later: a tool
  // that writes a temp file and renames it (rsync, most deploys) has
  // renamed it by then, and the temp name is never announced. A file not
  // yet closed after writing is taken only once it has been still for
  // `settle` (CheckFile), so a half-written file is never announced.
  struct Due {
    SteadyClock::time_point at;
    bool closed = false;  // a close after writing was seen
  };
  std::map<std::string, Due> closed_writes;
  const auto close_delay =
      std::min(config_.settle, std::chrono::milliseconds(100));
  while (!stopping_) {
    // (path, the writer is done with it), in the order events came.
    std::vector<std::pair<std::string, bool>> changed;
    int wait_ms = 200;
    const auto now = SteadyClock::now();
    for (auto it = closed_writes.begin(); it != closed_writes.end();) {
      if (it->second.at <= now) {
        changed.emplace_back(it->first, it->second.closed);
        it = closed_writes.erase(it);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          it->second.at - now);
      wait_ms = std::min<int>(wait_ms, static_cast<int>(left.count()) + 1);
      ++it;
    }
    pollfd p{fd, POLLIN, 0};
    const ssize_t n = changed.empty() && ::poll(&p, 1, wait_ms) > 0
                          ? ::read(fd, buffer, sizeof buffer)
                          : 0;
    bool overflowed = false;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        overflowed = true;
        continue;
      }
      std::string dir;
      {
        std::lock_guard lock(watches_mutex_);
        auto it = watched_dirs_.find(event->wd);
        if (it == watched_dirs_.end()) continue;
        dir = it->second;
        if (event->mask & IN_IGNORED) {
          watched_dirs_.erase(it);
          continue;
        }
      }
      if (event->len == 0) continue;  // about the watched folder itself
      const std::string name(event->name);
      if ((dir.empty() && name == repl::kPrivateFolder) ||
          config_.Filtered(name)) {
        continue;
      }
      const std::string rel = dir.empty() ? name : dir + "/" + name;
      if ((event->mask & IN_ISDIR) &&
          (event->mask & (IN_CREATE | IN_MOVED_TO))) {
        // A new folder: watch it, and take what it already holds.
        AddWatches(fd, folder_ / rel);
        watching_ = !unwatched_;
        changed.emplace_back(rel, false);
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(folder_ / rel, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
          if (ec) break;
          changed.emplace_back(
              it->path().lexically_relative(folder_).generic_string(), true);
        }
        continue;
      }
      if (event->mask & (IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) {
        // A rename or a deletion is final: decided now.
        closed_writes.erase(rel);
        changed.emplace_back(rel, (event->mask & IN_MOVED_TO) != 0);
        continue;
      }
      // Written, created or given its times and mode (rsync does that to
      // its temp file just before renaming it): taken a moment later, when
      // a temp file is gone under its final name. A later event for it
      // puts that moment off again.
      Due& due = closed_writes[rel];
      due.at = SteadyClock::now() + close_delay;
      due.closed |= (event->mask & IN_CLOSE_WRITE) != 0;
    }
    if (overflowed) {
      // More at once than the queue holds: the full scan finds it all.
      spdlog::info("DFSR3014 change queue overflowed: scanning");
      (void)ScanOnce();
      continue;
    }
    // What exists first, what is gone after: a rename's new name is
    // announced before its old name's deletion, so peers find the content
    // under the new name locally and move no bytes.
    std::stable_partition(changed.begin(), changed.end(), [&](const auto& c) {
      struct stat st {};
      return ::lstat((folder_ / c.first).c_str(), &st) == 0;
    });
    for (const auto& [rel, closed] : changed) {
      if (!CheckPath(rel, closed)) {
        // Not settled: look again once it may be.
        closed_writes[rel] = Due{SteadyClock::now() + config_.settle, closed};
      }
    }
  }
  ::close(fd);
}

void Member::PurgeTombstones() {
  const int64_t cutoff = NowMillis() - config_.tombstone_lifetime().count();
  std::vector<std::string> expired;
  (void)store_->ForEach([&](const FileRecord& r) {
    if (r.deleted && r.deleted_at_ms < cutoff) expired.push_back(r.path);
    return true;
  });
  for (const auto& rel : expired) {
    std::lock_guard lock(apply_mutex_);
    (void)store_->Remove(rel);
  }
}

// ------------------------------------------------------------ server

void Member::ListenLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from),
                             &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) SleepFor(kMinBackoff);
      continue;
    }
    if (server_connections_ >= kMaxServerConnections) {
      ::close(fd);
      continue;
    }
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
    ++server_connections_;
    std::lock_guard lock(server_threads_mutex_);
    server_threads_.emplace_back(
        [this, fd, peer = std::string(ip)] { Serve(fd, peer); });
  }
}

void Member::Serve(int fd, std::string peer) {
  auto connection =
      Connection::Accept(fd, session_keys_, throttle_, throttle_mutex_, peer,
                         config_.peer_timeout);
  if (!connection) {
    spdlog::warn("DFSR3040 refused a connection from {}: {}", peer,
                 connection.error().Message());
    --server_connections_;
    return;
  }
  Connection& c = **connection;
  c.set_rate_limiter(send_limit_.get());
  {
    std::lock_guard lock(links_mutex_);
    links_.insert(&c);
  }
  // Idle links stay open (the puller asks every poll interval); a peer
  // silent for this long is gone.
  const auto idle =
      std::max(config_.peer_timeout * 6, std::chrono::milliseconds(60000));
  while (!stopping_) {
    auto frame = c.Receive(idle);
    if (!frame) break;
    if (frame->type == FrameType::kReplIndexRequest) {
      auto request = repl::DecodeIndexRequest(frame->payload);
      if (!request) break;
      (void)store_->UpdatePeer(request->member, [&](repl::PeerState& s) {
        RejoinIfStale(s, request->member);
        s.served_seq = request->since;
        s.last_served_ms = NowMillis();
      });
      repl::IndexReply reply;
      reply.member = self_;
      // One read: the records and the high sequence they never pass.
      auto index = store_->SinceWithHigh(request->since, request->max_records);
      if (!index) break;
      reply.high_seq = index->first;
      reply.records = std::move(index->second);
      const std::string bytes = repl::Pack(repl::EncodeIndexReply(reply));
      counters_.bytes_sent += bytes.size();
      if (!c.Send(FrameType::kReplIndexReply, bytes).ok()) break;
    } else if (frame->type == FrameType::kReplFileRequest) {
      auto request = repl::DecodeFileRequest(frame->payload);
      if (!request) break;
      if (!ServeFile(c, *request).ok()) break;
    } else if (frame->type == FrameType::kReplBatchRequest) {
      auto unpacked = repl::Unpack(frame->payload, kMaxBatchRequestBytes);
      if (!unpacked) break;
      auto request = repl::DecodeBatchRequest(*unpacked);
      if (!request) break;
      if (!ServeBatch(c, *request).ok()) break;
    } else if (frame->type == FrameType::kReplSync) {
      continue;  // the rest of an exchange we refused
    } else {
      break;
    }
  }
  {
    std::lock_guard lock(links_mutex_);
    links_.erase(&c);
  }
  --server_connections_;
}

std::vector<repl::ChunkEntry> Member::ChunksOf(
    const std::string& rel, std::span<const uint8_t> data,
    const repl::LocalStat& before, const repl::ChunkParams& params) {
  const std::string owner = std::to_string(++chunk_claim_counter_);
  while (!chunk_claims_.Claim(rel, owner)) {
    chunk_claims_.WaitUnclaimed(rel, std::chrono::seconds(1));
  }
  struct Unclaim {
    FetchClaims& claims;
    const std::string& rel;
    const std::string& owner;
    ~Unclaim() { claims.Release(rel, owner); }
  } unclaim{chunk_claims_, rel, owner};
  if (auto kept = store_->GetSignature(rel, before, params); kept && *kept) {
    ++counters_.signatures_reused;
    return std::move(**kept);
  }
  auto chunks = repl::ChunkData(params, data);
  ++counters_.files_chunked;
  // Kept only if the file is still as it was before it was mapped.
  struct stat st {};
  if (::lstat((folder_ / rel).c_str(), &st) == 0 && StatOf(st) == before) {
    (void)store_->PutSignature(rel, before, params, chunks);
  }
  return chunks;
}

Status Member::ServeFile(Connection& c, const repl::FileRequest& request) {
  // Only what this member's own index holds, as it holds it: the path
  // never reaches the file system unless it is a live record here.
  struct stat st {};
  const repl::LocalStat before =
      ::lstat((folder_ / request.path).c_str(), &st) == 0 ? StatOf(st)
                                                          : repl::LocalStat{};
  auto file = OpenAnnounced(request.path, request.hash);
  if (!file) {
    return c.Send(FrameType::kError,
                  referral::EncodeErrorPayload(
                      {referral::kStatusNotFound,
                       request.path + ": " + file.error().context}));
  }
  SyncChannel channel(c);
  repl::SenderOptions options;
  const auto chunks =
      ChunksOf(request.path, file->data(), before, options.data);
  options.chunks = &chunks;
  auto sent = repl::RunSender(channel, file->data(), options);
  counters_.bytes_sent += channel.bytes_sent();
  if (!sent) {
    spdlog::warn("DFSR3041 sending {} to {} failed: {}", request.path, c.peer(),
                 sent.error().Message());
  }
  return Status::Ok();
}

// ------------------------------------------------------------ pullers

void Member::RejoinIfStale(repl::PeerState& state, const std::string& peer) {
  const int64_t lifetime = config_.tombstone_lifetime().count();
  if (state.rejoining || !state.OutOfContactLongerThan(NowMillis(), lifetime))
    return;
  state.BeginRejoin();
  spdlog::warn(
      "DFSR3050 out of contact with {} for {:.1f} days, longer than a "
      "tombstone lives ({} days): taking its whole index again; files it "
      "deleted meanwhile are moved to .dfsrd/preexisting, not sent back",
      peer, static_cast<double>(NowMillis() - state.LastContactMs()) / 86.4e6,
      config_.tombstone_days);
}

void Member::PullLoop(MemberConfig peer) {
  // The same pacing as every other reconnecting link in the project.
  referral_net::Backoff backoff(kMinBackoff, kMaxBackoff);
  std::string reported;  // the failure last logged: each new one is logged
  // A rejoin's full pull names every path the peer knows: kept here, so
  // one interrupted by a restart starts again from the first record.
  std::unordered_set<std::string> rejoin_seen;
  (void)store_->UpdatePeer(peer.name, [](repl::PeerState& s) {
    if (s.rejoining) s.pulled_seq = 0;
  });
  while (!stopping_) {
    auto connection =
        Connection::Connect(peer.address, key_, config_.peer_timeout);
    if (!connection) {
      const std::string why = connection.error().Message();
      if (why != reported) {
        if (connection.error().code ==
            make_error_code(Errc::kPermissionDenied)) {
          spdlog::error("DFSR3023 peer {} ({}) refused: {}", peer.name,
                        peer.address, why);
        } else {
          spdlog::warn("DFSR3020 peer {} ({}) unreachable: {}", peer.name,
                       peer.address, why);
        }
        reported = why;
      }
      SleepFor(backoff.Next());
      continue;
    }
    Connection& c = **connection;
    c.set_rate_limiter(send_limit_.get());
    spdlog::info("DFSR3021 connected to peer {} ({})", peer.name, peer.address);
    (void)store_->UpdatePeer(
        peer.name, [&](repl::PeerState& s) { RejoinIfStale(s, peer.name); });
    reported.clear();
    backoff.Reset();
    {
      std::lock_guard lock(links_mutex_);
      links_.insert(&c);
    }
    while (!stopping_) {
      bool got_records = false;
      Status pulled = PullOnce(c, peer.name, got_records, rejoin_seen);
      if (!pulled.ok()) {
        if (!stopping_) {
          spdlog::warn("DFSR3022 link to peer {} dropped: {}", peer.name,
                       pulled.error().Message());
        }
        break;
      }
      if (!got_records) SleepFor(config_.poll_interval);
    }
    {
      std::lock_guard lock(links_mutex_);
      links_.erase(&c);
    }
    SleepFor(backoff.Next());
  }
}

Status Member::PullOnce(Connection& c, const std::string& peer,
                        bool& got_records,
                        std::unordered_set<std::string>& rejoin_seen) {
  DFS_ASSIGN_OR_RETURN(repl::PeerState state, store_->Peer(peer));
  if (state.rejoining && state.pulled_seq == 0) rejoin_seen.clear();
  DFS_RETURN_IF_ERROR(
      c.Send(FrameType::kReplIndexRequest,
             repl::EncodeIndexRequest(
                 {self_, state.pulled_seq,
                  static_cast<uint32_t>(repl::kMaxIndexRecords)})));
  DFS_ASSIGN_OR_RETURN(Frame frame, c.Receive());
  counters_.bytes_received += frame.payload.size();
  if (frame.type == FrameType::kError) return Unexpected<Error>(ErrorOf(frame));
  if (frame.type != FrameType::kReplIndexReply) {
    return Fail(Errc::kCorrupt, "not an index reply");
  }
  // A reply that does not decode (a name with "..", a record too big...)
  // is refused whole: nothing in it is written.
  auto unpacked = repl::Unpack(frame.payload, kMaxIndexReplyBytes);
  if (!unpacked) {
    return Fail(Errc::kCorrupt, "refused the index of " + peer + ": " +
                                    unpacked.error().Message());
  }
  auto reply = repl::DecodeIndexReply(*unpacked);
  if (!reply) {
    ++counters_.refused_paths;
    return Fail(Errc::kCorrupt, "refused the index of " + peer + ": " +
                                    reply.error().Message());
  }
  if (reply->member != peer) {
    return Fail(Errc::kPermissionDenied,
                "the member at this address answers as " + reply->member);
  }
  DFS_RETURN_IF_ERROR(store_->UpdatePeer(peer, [&](repl::PeerState& s) {
    s.high_seq = reply->high_seq;
    s.last_contact_ms = NowMillis();
  }));
  Prefetched prefetched;
  // Whatever happens, staged files not installed go.
  struct Cleanup {
    Prefetched& files;
    ~Cleanup() {
      std::error_code ec;
      for (const auto& [path, staged] : files) fs::remove(staged, ec);
    }
  } cleanup{prefetched};
  if (state.rejoining) {
    for (const FileRecord& r : reply->records) rejoin_seen.insert(r.path);
  }
  // While rejoining, the peer's records we had taken before are taken
  // again only to compare: one for a path we no longer know is a file we
  // deleted (its tombstone gone since), not a new one.
  std::vector<FileRecord> records;
  records.reserve(reply->records.size());
  for (const FileRecord& r : reply->records) {
    if (state.rejoining && r.seq <= state.rejoin_pulled_seq) {
      DFS_ASSIGN_OR_RETURN(auto local, store_->Get(r.path));
      if (!local) continue;
    }
    records.push_back(r);
  }
  RoundClaims claims{fetch_claims_, peer, {}};
  DFS_RETURN_IF_ERROR(Prefetch(c, records, prefetched, claims));
  bool installed_unsynced = false;
  // How far this round got: recorded once at the end (or when it stops
  // early), not once a record. Records before `index` are taken.
  auto record_progress = [&](size_t index) -> Status {
    if (index == 0) return Status::Ok();
    const uint64_t taken = records[index - 1].seq;
    return store_->UpdatePeer(peer, [&](repl::PeerState& s) {
      // A rejoin begun meanwhile (by the server side) starts from 0.
      if (s.rejoining && !state.rejoining) return;
      s.pulled_seq = taken;
    });
  };
  // Applies records[index]: Ok(true) done (or refused for good), Ok(false)
  // another puller is fetching its path.
  auto apply = [&](size_t index) -> Result<bool> {
    const FileRecord& remote = records[index];
    installed_unsynced |= prefetched.contains(remote.path);
    auto applied = ApplyRemote(c, remote, prefetched, claims);
    claims.Release(remote.path);
    if (applied) return *applied;
    if (applied.error().code != make_error_code(Errc::kInvalidArgument)) {
      return applied;  // try again later, from this record on
    }
    // Never to be applied here (a parent that is not a folder): say so
    // and go on.
    ++counters_.refused_paths;
    spdlog::error("DFSR3033 not applying {} from {}: {}", remote.path, peer,
                  applied.error().Message());
    return true;
  };
  // Records whose path another puller is fetching wait for the end of the
  // round (this round's claims given up by then: no two pullers wait for
  // each other), then are looked at again: usually the other puller has
  // installed the same version and nothing moves.
  std::vector<size_t> waiting;
  for (size_t i = 0; i < records.size(); ++i) {
    auto applied = apply(i);
    if (!applied) {
      DFS_RETURN_IF_ERROR(record_progress(waiting.empty() ? i : waiting[0]));
      return Status(applied.error());
    }
    if (!*applied) waiting.push_back(i);
  }
  for (size_t w = 0; w < waiting.size(); ++w) {
    const size_t i = waiting[w];
    for (;;) {
      while (!stopping_ &&
             !fetch_claims_.WaitUnclaimed(records[i].path,
                                          std::chrono::milliseconds(200))) {
      }
      if (stopping_) return record_progress(i);
      auto applied = apply(i);
      if (!applied) {
        DFS_RETURN_IF_ERROR(record_progress(i));
        return Status(applied.error());
      }
      if (*applied) break;
    }
  }
  // A reply with fewer records than asked holds every record up to its
  // high sequence (the rest were replaced or purged): all of it is taken.
  const bool complete = reply->records.size() < repl::kMaxIndexRecords;
  uint64_t taken = reply->records.empty() ? 0 : reply->records.back().seq;
  if (complete) taken = std::max(taken, reply->high_seq);
  if (taken > state.pulled_seq) {
    DFS_RETURN_IF_ERROR(store_->UpdatePeer(peer, [&](repl::PeerState& s) {
      if (s.rejoining && !state.rejoining) return;
      s.pulled_seq = taken;
    }));
  }
  if (installed_unsynced) {
    // One sync for the batch's renames instead of one per file.
    SyncFileSystemOf(folder_);
  }
  got_records = !reply->records.empty();
  if (state.rejoining && complete) {
    DFS_RETURN_IF_ERROR(
        FinishRejoin(peer, state.rejoin_known_seq, rejoin_seen));
    rejoin_seen.clear();
  }
  return Status::Ok();
}

Status Member::FinishRejoin(const std::string& peer, uint64_t known_seq,
                            const std::unordered_set<std::string>& seen) {
  std::vector<FileRecord> forgotten;
  DFS_RETURN_IF_ERROR(store_->ForEach([&](const FileRecord& r) {
    if (!r.deleted && r.seq <= known_seq && !seen.contains(r.path)) {
      forgotten.push_back(r);
    }
    return true;
  }));
  // Files first, then folders deepest first (emptied by then).
  std::stable_sort(forgotten.begin(), forgotten.end(),
                   [](const FileRecord& a, const FileRecord& b) {
                     if (a.is_dir != b.is_dir) return !a.is_dir;
                     return a.is_dir && a.path > b.path;
                   });
  size_t moved = 0;
  for (const FileRecord& r : forgotten) {
    std::lock_guard lock(apply_mutex_);
    DFS_ASSIGN_OR_RETURN(auto now, store_->Get(r.path));
    if (!now || now->seq != r.seq) continue;  // changed meanwhile
    DFS_ASSIGN_OR_RETURN(bool unchanged, Unchanged(r.path, now));
    if (!unchanged) continue;  // edited here: an edit beats a deletion
    const fs::path path = folder_ / r.path;
    if (r.is_dir) {
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT) continue;
    } else {
      const fs::path kept = preexisting_dir_ / r.path;
      std::error_code ec;
      fs::create_directories(kept.parent_path(), ec);
      if (::rename(path.c_str(), kept.c_str()) != 0) {
        spdlog::error("DFSR3052 cannot move {} to {}: {}", r.path,
                      kept.string(), std::strerror(errno));
        continue;
      }
      ++moved;
    }
    DFS_RETURN_IF_ERROR(store_->Remove(r.path));
  }
  spdlog::warn(
      "DFSR3051 rejoined {}: {} files it deleted while out of contact are "
      "in {}",
      peer, moved, preexisting_dir_.string());
  return store_->UpdatePeer(peer, [](repl::PeerState& s) {
    s.rejoining = false;
    s.rejoin_known_seq = s.rejoin_pulled_seq = 0;
  });
}

Result<bool> Member::Unchanged(const std::string& rel,
                               const std::optional<FileRecord>& local) {
  struct stat st {};
  const bool exists = ::lstat((folder_ / rel).c_str(), &st) == 0;
  if (!local || local->deleted) return !exists;
  if (local->is_dir) return exists && S_ISDIR(st.st_mode);
  DFS_ASSIGN_OR_RETURN(auto known, store_->GetStat(rel));
  return exists && known && *known == StatOf(st);
}

Result<bool> Member::ApplyRemote(Connection& c, const FileRecord& remote,
                                 Prefetched& prefetched, RoundClaims& claims) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::optional<FileRecord> local;
    repl::Decision decision;
    {
      std::lock_guard lock(apply_mutex_);
      DFS_ASSIGN_OR_RETURN(local, store_->Get(remote.path));
      decision = repl::Reconcile(local, remote, self_);
    }
    if (decision.action == repl::Action::kNothing) return true;
    std::optional<fs::path> staged;
    if (decision.action == repl::Action::kFetch) {
      if (!claims.Claim(remote.path)) return false;
      DFS_ASSIGN_OR_RETURN(staged,
                           Stage(c, decision.result, local, prefetched));
    }
    std::lock_guard lock(apply_mutex_);
    DFS_ASSIGN_OR_RETURN(auto now, store_->Get(remote.path));
    DFS_ASSIGN_OR_RETURN(bool unchanged, Unchanged(remote.path, now));
    if (now != local || !unchanged) {
      // Changed here meanwhile (or changed on disk and not yet scanned):
      // decide again against what is here now.
      std::error_code ec;
      if (staged) fs::remove(*staged, ec);
      if (!unchanged) {
        return Fail(Errc::kConflict, remote.path +
                                         " changed here and is not scanned "
                                         "yet; taking it up again later");
      }
      continue;
    }
    if (decision.conflict) {
      ++counters_.conflicts;
      const bool remote_won = decision.action != repl::Action::kKeepLocal;
      const FileRecord& loser = remote_won ? *local : remote;
      spdlog::warn("DFSR3030 conflict on {}: {} from {} wins over {} from {}{}",
                   remote.path, Describe(decision.result),
                   decision.result.modified_by, Describe(loser),
                   loser.modified_by,
                   decision.keep_local_copy ? "; the local version is kept in "
                                              ".dfsrd/conflicts"
                                            : "");
    }
    const bool batched = staged && staged->parent_path() == staging_dir_ &&
                         staged->filename().string().rfind("batch-", 0) == 0;
    DFS_RETURN_IF_ERROR(
        Install(decision, staged, local, /*sync_directory=*/!batched));
    return true;
  }
  return Fail(Errc::kConflict, remote.path + " keeps changing here");
}

Result<fs::path> Member::LocalPath(const std::string& rel, bool make_parents) {
  DFS_RETURN_IF_ERROR(repl::ValidateRelativePath(rel));
  fs::path path = folder_;
  const fs::path relative(rel);
  auto last = std::prev(relative.end());
  for (auto it = relative.begin(); it != last; ++it) {
    path /= *it;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return Fail(Errc::kInvalidArgument,
                    path.string() +
                        " is not a folder here (a file or a "
                        "symlink): refusing to write below it");
      }
      continue;
    }
    if (!make_parents) continue;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return Fail(Errc::kIo, "cannot create " + path.string() + ": " +
                                 std::strerror(errno));
    }
  }
  return path / *last;
}

Result<fs::path> Member::Stage(Connection& c, const FileRecord& record,
                               const std::optional<FileRecord>& local,
                               Prefetched& prefetched) {
  if (auto it = prefetched.find(record.path); it != prefetched.end()) {
    fs::path staged = it->second;
    prefetched.erase(it);
    return staged;
  }
  const fs::path staged =
      staging_dir_ / ("in-" + std::to_string(::getpid()) + "-" +
                      std::to_string(++staging_counter_));
  // The same content here already (a rename, a copy, a file deleted a
  // moment ago whose new name comes now): no bytes move. The copy is
  // checked, not the source: it may change while it is copied.
  for (const fs::path& source : HoldersOf(record.hash)) {
    std::error_code ec;
    if (!fs::exists(source, ec)) continue;
    fs::copy_file(source, staged, fs::copy_options::overwrite_existing, ec);
    if (ec) continue;
    auto hash = HashFile(staged);
    if (hash && *hash == record.hash) {
      ++counters_.files_copied_locally;
      return staged;
    }
    fs::remove(staged, ec);
  }
  // Otherwise a delta against our old version, if we have one.
  repl::ReceiverOptions options;
  std::vector<repl::Basis::Source> basis_files;
  std::vector<repl::ChunkEntry> old_chunks;
  if (local && !local->deleted && !local->is_dir) {
    const fs::path old = folder_ / local->path;
    struct stat st {};
    if (::lstat(old.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (auto mapped = repl::MappedFile::Open(old)) {
        old_chunks = ChunksOf(local->path, mapped->data(), StatOf(st),
                              options.params.data);
      }
      basis_files.push_back({old.string(), &old_chunks});
    }
  }
  DFS_ASSIGN_OR_RETURN(repl::Basis basis,
                       repl::Basis::Open(basis_files, options.params.data));
  DFS_RETURN_IF_ERROR(
      c.Send(FrameType::kReplFileRequest,
             repl::EncodeFileRequest({record.path, record.hash})));
  SyncChannel channel(c);
  auto received = repl::RunReceiver(channel, basis, staged.string(), options);
  counters_.bytes_received += channel.bytes_received();
  if (!received) {
    return Fail(Errc::kIo, "fetching " + record.path + " from " + c.peer() +
                               ": " + received.error().Message());
  }
  // The sender's hash was checked; check it is the one its index claimed.
  auto hash = HashFile(staged);
  if (!hash || !(*hash == record.hash)) {
    std::error_code ec;
    fs::remove(staged, ec);
    return Fail(Errc::kCorrupt, c.peer() + " sent " + record.path +
                                    " with other content than it announced");
  }
  ++counters_.files_received;
  ++counters_.fetched_by_delta;
  counters_.content_bytes_received += record.size;
  return staged;
}

Status Member::KeepConflictCopy(const std::string& rel,
                                const FileRecord& local) {
  const fs::path source = folder_ / rel;
  const fs::path relative(rel);
  fs::path target_dir = conflicts_dir_ / relative.parent_path();
  std::error_code ec;
  fs::create_directories(target_dir, ec);
  const fs::path target =
      target_dir / (relative.filename().string() + ".conflict." +
                    (local.modified_by.empty() ? self_ : local.modified_by) +
                    "." + std::to_string(NowMillis()));
  // A hard link keeps the bytes whatever happens to the name in the folder.
  if (::link(source.c_str(), target.c_str()) != 0) {
    fs::copy_file(source, target, ec);
    if (ec) {
      return Fail(Errc::kIo, "cannot keep the losing version of " + rel + ": " +
                                 ec.message());
    }
  }
  spdlog::warn("DFSR3031 kept the losing version of {} as {}", rel,
               target.string());
  EnforceConflictQuota();
  return Status::Ok();
}

void Member::EnforceConflictQuota() {
  const uint64_t quota = config_.conflict_quota_mb << 20;
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(conflicts_dir_, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    total += it->file_size(ec);
    files.emplace_back(it->last_write_time(ec), it->path());
  }
  std::sort(files.begin(), files.end());
  uint64_t kept = files.size();
  for (const auto& [when, path] : files) {
    if (total <= quota) break;
    const uint64_t size = fs::file_size(path, ec);
    if (fs::remove(path, ec)) {
      total -= size;
      --kept;
      spdlog::warn(
          "DFSR3032 conflict quota: removed the oldest kept version {}",
          path.string());
    }
  }
  conflicts_kept_ = kept;
}

Status Member::Install(const repl::Decision& d,
                       const std::optional<fs::path>& staged,
                       const std::optional<FileRecord>& local,
                       bool sync_directory) {
  const FileRecord& result = d.result;
  DFS_ASSIGN_OR_RETURN(
      fs::path target,
      LocalPath(result.path, /*make_parents=*/!result.deleted));
  if (d.keep_local_copy && local) {
    DFS_RETURN_IF_ERROR(KeepConflictCopy(result.path, *local));
  }
  struct stat st {};
  switch (d.action) {
    case repl::Action::kNothing:
      return Status::Ok();
    case repl::Action::kKeepLocal:
    case repl::Action::kRecordOnly: {
      std::optional<repl::LocalStat> now;
      if (!result.deleted && !result.is_dir &&
          ::lstat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        if (d.action == repl::Action::kRecordOnly &&
            ((st.st_mode & 07777) != result.mode ||
             MtimeNs(st) != result.mtime_ns)) {
          DFS_RETURN_IF_ERROR(SetTimesAndMode(target, result));
          ::lstat(target.c_str(), &st);
        }
        now = StatOf(st);
      }
      return Recorded(store_->Put(result, now));
    }
    case repl::Action::kMakeDir: {
      if (::lstat(target.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
        if (::unlink(target.c_str()) != 0) {
          return Fail(Errc::kIo, "cannot replace " + target.string());
        }
      }
      if (::mkdir(target.c_str(), result.mode & 07777) != 0 &&
          errno != EEXIST) {
        return Fail(Errc::kIo, "cannot create " + target.string() + ": " +
                                   std::strerror(errno));
      }
      return Recorded(store_->Put(result, std::nullopt));
    }
    case repl::Action::kDelete: {
      if (::lstat(target.c_str(), &st) == 0) {
        if (S_ISREG(st.st_mode) && local && !local->deleted) {
          // Kept a while by content: if the deletion is half of a rename
          // (or a folder move), the new name's content is found here.
          const fs::path recent = recent_dir_ / local->hash.Hex();
          (void)::link(target.c_str(), recent.c_str());
        }
        const int rc = S_ISDIR(st.st_mode) ? ::rmdir(target.c_str())
                                           : ::unlink(target.c_str());
        if (rc != 0 && errno == ENOTEMPTY) {
          // Something here is not deleted elsewhere: the folder stays (the
          // scanner announces it again: an edit beats a deletion).
          spdlog::info("DFSR3034 kept the folder {}: it is not empty",
                       result.path);
        } else if (rc != 0) {
          return Fail(Errc::kIo, "cannot delete " + target.string() + ": " +
                                     std::strerror(errno));
        }
      }
      ++counters_.deletes_applied;
      return Recorded(store_->Put(result, std::nullopt));
    }
    case repl::Action::kFetch: {
      DFS_RETURN_IF_ERROR(SetTimesAndMode(*staged, result));
      // Linked while still in staging: a link in the folder would be one
      // more event (and stat change) for the watcher.
      KeepVersion(*staged, result.hash, result.size);
      if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
          ::rmdir(target.c_str()) != 0) {
        return Fail(Errc::kIo, "cannot replace the folder " + target.string() +
                                   " with a file: it is not empty");
      }
      // One rename: a reader sees the old file or the new one, whole.
      if (::rename(staged->c_str(), target.c_str()) != 0) {
        return Fail(Errc::kIo, "cannot install " + target.string() + ": " +
                                   std::strerror(errno));
      }
      if (sync_directory)
        DFS_RETURN_IF_ERROR(SyncParentDirectory(target.string()));
      if (::lstat(target.c_str(), &st) != 0) {
        return Fail(Errc::kIo, "installed " + target.string() + " vanished");
      }
      return Recorded(store_->Put(result, StatOf(st)));
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------ batches

void Member::KeepVersion(const fs::path& file, const repl::Hash128& hash,
                         uint64_t size) {
  if (size > repl::kMaxBatchFileBytes) return;
  const fs::path link = versions_dir_ / hash.Hex();
  (void)::link(file.c_str(), link.c_str());  // EEXIST: kept already
}

std::vector<fs::path> Member::HoldersOf(const repl::Hash128& hash) {
  std::vector<fs::path> out;
  if (auto live = store_->PathsWithHash(hash)) {
    for (const auto& p : *live) out.push_back(folder_ / p);
  }
  out.push_back(versions_dir_ / hash.Hex());
  out.push_back(recent_dir_ / hash.Hex());
  return out;
}

Result<repl::MappedFile> Member::OpenAnnounced(const std::string& rel,
                                               const repl::Hash128& hash) {
  // Only what this member's own index holds, as it holds it: the path never
  // reaches the file system unless it is a live record here.
  auto record = store_->Get(rel);
  if (!record || !*record || (*record)->deleted || (*record)->is_dir ||
      !((*record)->hash == hash)) {
    return Fail(Errc::kNotFound, "changed since it was announced; ask again");
  }
  const fs::path path = folder_ / rel;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Fail(Errc::kNotFound, "not a regular file here");
  }
  DFS_ASSIGN_OR_RETURN(repl::MappedFile file, repl::MappedFile::Open(path));
  if (!(repl::HashBytes(file.data()) == hash)) {
    return Fail(Errc::kNotFound, "changed since it was announced; ask again");
  }
  return file;
}

std::optional<std::string> Member::ContentWithHash(const repl::Hash128& hash) {
  for (const fs::path& path : HoldersOf(hash)) {
    auto file = repl::MappedFile::Open(path);
    if (!file || file->size() > repl::kMaxBatchFileBytes) continue;
    if (repl::HashBytes(file->data()) == hash) {
      return std::string(reinterpret_cast<const char*>(file->data().data()),
                         file->data().size());
    }
  }
  return std::nullopt;
}

Status Member::ServeBatch(Connection& c, const repl::BatchRequest& request) {
  repl::BatchReply reply;
  size_t total = 0;
  for (const repl::BatchWant& want : request.files) {
    repl::BatchFile out;
    out.path = want.path;
    auto file = OpenAnnounced(want.path, want.want);
    if (file && file->size() <= repl::kMaxBatchFileBytes &&
        total + file->size() <= repl::kMaxBatchBytes) {
      const std::string_view data(
          reinterpret_cast<const char*>(file->data().data()),
          file->data().size());
      std::optional<std::string> old;
      if (!(want.have == repl::Hash128{})) old = ContentWithHash(want.have);
      out.size = data.size();
      // Small files (most of a site) get zstd's strongest level: it
      // costs little at their size and every byte counts per file.
      const int level = data.size() <= kStrongCompressionBytes ? 19 : 3;
      if (old) {
        out.encoding = repl::BatchEncoding::kAgainstOld;
        out.data = repl::Compress(data, level, *old);
      } else {
        out.encoding = repl::BatchEncoding::kWhole;
        out.data = repl::Compress(data, level);
      }
      total += out.size;
    }
    reply.files.push_back(std::move(out));
  }
  const std::string packed = repl::Pack(repl::EncodeBatchReply(reply));
  counters_.bytes_sent += packed.size();
  return c.Send(FrameType::kReplBatchReply, packed);
}

Status Member::Prefetch(Connection& c, const std::vector<FileRecord>& records,
                        Prefetched& prefetched, RoundClaims& claims) {
  std::vector<repl::BatchWant> wants;
  for (const FileRecord& remote : records) {
    if (remote.deleted || remote.is_dir ||
        remote.size > repl::kMaxBatchFileBytes) {
      continue;
    }
    std::optional<FileRecord> local;
    {
      std::lock_guard lock(apply_mutex_);
      auto got = store_->Get(remote.path);
      if (!got) return Status(got.error());
      local = std::move(*got);
    }
    const repl::Decision d = repl::Reconcile(local, remote, self_);
    if (d.action != repl::Action::kFetch) continue;
    // Content already here under another name is copied, not fetched.
    auto same = store_->PathsWithHash(remote.hash);
    if (same && !same->empty()) continue;
    if (!claims.Claim(remote.path)) continue;  // another puller fetches it
    repl::BatchWant want{remote.path, remote.hash, {}};
    if (local && !local->deleted && !local->is_dir) want.have = local->hash;
    wants.push_back(std::move(want));
  }
  std::map<std::string, uint64_t> size_of;
  for (const FileRecord& r : records) size_of[r.path] = r.size;
  size_t next = 0;
  while (next < wants.size()) {
    repl::BatchRequest request;
    uint64_t bytes = 0;
    std::map<std::string, const repl::BatchWant*> by_path;
    while (next < wants.size() &&
           request.files.size() < repl::kMaxBatchEntries) {
      const uint64_t size = size_of[wants[next].path];
      if (bytes + size > repl::kMaxBatchBytes && !request.files.empty()) break;
      bytes += size;
      request.files.push_back(wants[next]);
      ++next;
    }
    for (const auto& w : request.files) by_path[w.path] = &w;
    DFS_RETURN_IF_ERROR(c.Send(FrameType::kReplBatchRequest,
                               repl::Pack(repl::EncodeBatchRequest(request))));
    DFS_ASSIGN_OR_RETURN(Frame frame, c.Receive());
    counters_.bytes_received += frame.payload.size();
    if (frame.type == FrameType::kError)
      return Unexpected<Error>(ErrorOf(frame));
    if (frame.type != FrameType::kReplBatchReply) {
      return Fail(Errc::kCorrupt, "not a batch reply");
    }
    DFS_ASSIGN_OR_RETURN(std::string unpacked,
                         repl::Unpack(frame.payload, 2 * repl::kMaxBatchBytes));
    DFS_ASSIGN_OR_RETURN(repl::BatchReply reply,
                         repl::DecodeBatchReply(unpacked));
    for (repl::BatchFile& file : reply.files) {
      auto wanted = by_path.find(file.path);
      if (wanted == by_path.end() ||
          file.encoding == repl::BatchEncoding::kMissing) {
        continue;  // fetched on its own when its record is applied
      }
      std::string old;
      if (file.encoding == repl::BatchEncoding::kAgainstOld) {
        auto mapped = repl::MappedFile::Open(folder_ / file.path);
        if (!mapped ||
            !(repl::HashBytes(mapped->data()) == wanted->second->have)) {
          continue;  // changed here meanwhile
        }
        old.assign(reinterpret_cast<const char*>(mapped->data().data()),
                   mapped->data().size());
      }
      auto content =
          repl::Decompress(file.data, file.size, repl::kMaxBatchFileBytes, old);
      if (!content) {
        return Fail(Errc::kCorrupt, c.peer() + " sent " + file.path + ": " +
                                        content.error().Message());
      }
      if (!(repl::HashBytes(reinterpret_cast<const uint8_t*>(content->data()),
                            content->size()) == wanted->second->want)) {
        return Fail(Errc::kCorrupt,
                    c.peer() + " sent " + file.path +
                        " with other content than it announced");
      }
      const fs::path staged =
          staging_dir_ / ("batch-" + std::to_string(++staging_counter_));
      DFS_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(staged.string()));
      DFS_RETURN_IF_ERROR(out.Write(*content));
      DFS_RETURN_IF_ERROR(out.Commit(/*durable=*/false));
      prefetched[file.path] = staged;
      ++(file.encoding == repl::BatchEncoding::kAgainstOld
             ? counters_.batched_against_old
             : counters_.batched_whole);
      ++counters_.files_received;
      counters_.content_bytes_received += content->size();
    }
  }
  if (!prefetched.empty()) {
    // The staged bytes reach the disk before any rename makes them visible.
    SyncFileSystemOf(staging_dir_);
  }
  return Status::Ok();
}

// ------------------------------------------------------------ status

namespace {

// Every counter once: its key in counters.json (what `dfsrd status`
// prints), its Prometheus name and help.
struct CounterInfo {
  const char* key;
  const char* metric;
  const char* help;
  std::atomic<uint64_t> Counters::*value;
};
constexpr CounterInfo kCounterInfo[] = {
    {"local_changes", "dfsrd_local_changes_total",
     "Changes taken from this member's folder.", &Counters::local_changes},
    {"files_received", "dfsrd_files_received_total",
     "Files fetched from peers.", &Counters::files_received},
    {"files_copied_locally", "dfsrd_files_copied_locally_total",
     "Files built from local content (renames, copies).",
     &Counters::files_copied_locally},
    {"bytes_received", "dfsrd_wire_bytes_received_total",
     "Bytes received from peers.", &Counters::bytes_received},
    {"content_bytes_received", "dfsrd_content_bytes_received_total",
     "Bytes of the files received (what the wire bytes stood for).",
     &Counters::content_bytes_received},
    {"bytes_sent", "dfsrd_wire_bytes_sent_total", "Bytes sent to peers.",
     &Counters::bytes_sent},
    {"conflicts", "dfsrd_conflicts_total", "Conflicts settled here.",
     &Counters::conflicts},
    {"deletes_applied", "dfsrd_deletes_applied_total",
     "Deletions taken from peers.", &Counters::deletes_applied},
    {"refused", "dfsrd_refused_total", "Peer messages or records refused.",
     &Counters::refused_paths},
    {"batched_against_old", "dfsrd_files_batched_against_old_total",
     "Small files received compressed against their old version.",
     &Counters::batched_against_old},
    {"batched_whole", "dfsrd_files_batched_whole_total",
     "Small files received whole (compressed).", &Counters::batched_whole},
    {"fetched_by_delta", "dfsrd_files_fetched_by_delta_total",
     "Large files received through the delta exchange.",
     &Counters::fetched_by_delta},
    {"files_chunked", "dfsrd_files_chunked_total",
     "Large files chunked for a delta (to send, or as a basis).",
     &Counters::files_chunked},
    {"signatures_reused", "dfsrd_signatures_reused_total",
     "Chunkings saved: a file unchanged since its signature was kept.",
     &Counters::signatures_reused},
};

}  // namespace

std::string Member::RenderMetrics() {
  PrometheusText o;
  for (const CounterInfo& c : kCounterInfo) {
    o.Counter(c.metric, c.help, (counters_.*c.value).load());
  }
  // Per peer: read once, written as three families.
  struct PeerFigures {
    std::string name;
    uint64_t in = 0, out = 0;
    std::optional<double> contact_seconds, oldest_pending_seconds;
  };
  std::vector<PeerFigures> peers;
  auto high = store_->HighSeq();
  const int64_t now = NowMillis();
  for (const auto& m : config_.Upstreams()) {
    auto peer = store_->Peer(m.name);
    if (!peer) continue;
    PeerFigures f{m.name, peer->BacklogIn(), peer->BacklogOut(high ? *high : 0),
                  std::nullopt, std::nullopt};
    if (auto pending =
            store_->PendingAfter(peer->served_seq, kMaxBacklogCounted)) {
      f.out = pending->records;
      if (pending->oldest_recorded_ms) {
        f.oldest_pending_seconds =
            std::max<int64_t>(0, now - *pending->oldest_recorded_ms) / 1000.0;
      }
    }
    if (const int64_t last = peer->LastContactMs(); last > 0) {
      f.contact_seconds = (now - last) / 1000.0;
    }
    peers.push_back(std::move(f));
  }
  o.Family("dfsrd_backlog_in", "gauge",
           "Records a peer has that this member has not taken.");
  for (const auto& f : peers)
    o.Sample("dfsrd_backlog_in", {{"peer", f.name}}, f.in);
  o.Family("dfsrd_backlog_out", "gauge",
           "Records of this member a peer has not taken.");
  for (const auto& f : peers)
    o.Sample("dfsrd_backlog_out", {{"peer", f.name}}, f.out);
  o.Family("dfsrd_oldest_pending_out_seconds", "gauge",
           "Age of the oldest record of this member a peer has not taken.");
  for (const auto& f : peers) {
    if (f.oldest_pending_seconds) {
      o.Sample("dfsrd_oldest_pending_out_seconds", {{"peer", f.name}},
               *f.oldest_pending_seconds);
    }
  }
  o.Family("dfsrd_peer_last_contact_seconds", "gauge",
           "Since the last exchange with a peer.");
  for (const auto& f : peers) {
    if (f.contact_seconds) {
      o.Sample("dfsrd_peer_last_contact_seconds", {{"peer", f.name}},
               *f.contact_seconds);
    }
  }
  return o.Take();
}

nlohmann::json Member::CountersJson() const {
  nlohmann::json counters = nlohmann::json::object();
  for (const CounterInfo& c : kCounterInfo) {
    counters[c.key] = (counters_.*c.value).load();
  }
  return counters;
}

std::string Member::StatusJson() {
  return MemberStatusJson(config_, *store_, CountersJson(), NowMillis(),
                          {.count_tombstones = false,
                           .conflicts_kept = conflicts_kept_.load()})
      .dump();
}

void Member::WriteStatusFile() {
  nlohmann::json j = CountersJson();
  j["member"] = self_;
  j["group"] = config_.group;
  j["pid"] = ::getpid();
  j["written_ms"] = NowMillis();
  (void)WriteFileAtomically((config_.state_dir / "counters.json").string(),
                            j.dump() + "\n");
}

}  // namespace dfs::dfsrd
