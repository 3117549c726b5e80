#include "member.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "dfs/common/atomic_file.h"
#include "dfs/common/error.h"
#include "dfs/repl/files.h"
#include "dfs/repl/sync.h"

namespace dfs::dfsrd {

namespace fs = std::filesystem;
using referral::Frame;
using referral::FrameType;
using repl::FileRecord;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxServerConnections = 64;
constexpr auto kMinBackoff = std::chrono::milliseconds(200);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
  fs::create_directories(staging_dir_, ec);
  if (!ec) fs::create_directories(conflicts_dir_, ec);
  if (ec) {
    return Fail(Errc::kIo,
                "cannot create " + private_dir_.string() + ": " + ec.message());
  }
  DFS_ASSIGN_OR_RETURN(
      store_, repl::StateStore::Open(config_.state_dir, config_.group, self_));
  // Listen before the first scan, so peers can connect while it runs.
  const std::string& address = config_.self().address;
  const size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::atoi(
      address.c_str() + (colon == std::string::npos ? 0 : colon + 1))));
  if (colon == std::string::npos ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    return Fail(Errc::kInvalidArgument,
                "this member's address '" + address + "' is not IP:PORT");
  }
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
  threads_.emplace_back([this] { ListenLoop(); });
  threads_.emplace_back([this] { ScanLoop(); });
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
  if (store_) WriteStatusFile();
}

bool Member::SleepFor(std::chrono::milliseconds duration) {
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
  return !stopping_;
}

// ------------------------------------------------------------ scanner

void Member::ScanLoop() {
  while (SleepFor(config_.scan_interval)) {
    Status scanned = ScanOnce();
    if (!scanned.ok()) {
      spdlog::error("DFSR3011 scanning {} failed: {}", folder_.string(),
                    scanned.error().Message());
    }
    WriteStatusFile();
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
    } else {
      CheckFile(rel, st);
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
  r.version.Bump(self_);
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

void Member::CheckFile(const std::string& rel, const struct stat& st) {
  const repl::LocalStat now = StatOf(st);
  {
    std::lock_guard lock(apply_mutex_);
    auto record = store_->Get(rel);
    auto known = store_->GetStat(rel);
    if (!record || !known) return;
    if (*record && !(*record)->deleted && !(*record)->is_dir && *known &&
        **known == now) {
      return;  // unchanged since it was last hashed
    }
  }
  // Still being written? Take it once it has been still for `settle`.
  const int64_t age_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() -
      now.mtime_ns;
  if (age_ns <
      std::chrono::duration_cast<std::chrono::nanoseconds>(config_.settle)
          .count()) {
    return;
  }
  const fs::path path = folder_ / rel;
  auto hash = HashFile(path);  // outside the lock: files may be large
  if (!hash) return;           // gone or unreadable: the next round says
  std::lock_guard lock(apply_mutex_);
  struct stat again {};
  if (::lstat(path.c_str(), &again) != 0 || !(StatOf(again) == now)) return;
  auto record = store_->Get(rel);
  if (!record) return;
  const uint32_t mode = st.st_mode & 07777;
  if (*record && !(*record)->deleted && !(*record)->is_dir &&
      (*record)->hash == *hash && (*record)->size == now.size &&
      (*record)->mode == mode) {
    (void)store_->PutStat(rel, now);  // touched, not changed
    return;
  }
  FileRecord r = record->value_or(FileRecord{});
  r.path = rel;
  r.version.Bump(self_);
  r.deleted = false;
  r.is_dir = false;
  r.hash = *hash;
  r.size = now.size;
  r.mtime_ns = now.mtime_ns;
  r.mode = mode;
  r.deleted_at_ms = 0;
  r.modified_by = self_;
  r.resolved_conflict = false;
  if (store_->Put(r, now)) {
    ++counters_.local_changes;
    spdlog::debug("DFSR3010 local change: {}", rel);
  }
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
  for (const std::string& rel : gone) {
    std::lock_guard lock(apply_mutex_);
    struct stat st {};
    if (::lstat((folder_ / rel).c_str(), &st) == 0)
      continue;  // installed since
    auto record = store_->Get(rel);
    if (!record || !*record || (*record)->deleted) continue;
    FileRecord r = **record;
    r.version.Bump(self_);
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
}

void Member::PurgeTombstones() {
  const int64_t cutoff =
      NowMillis() - int64_t{config_.tombstone_days} * 86'400'000;
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
        s.served_seq = request->since;
        s.last_served_ms = NowMillis();
      });
      repl::IndexReply reply;
      reply.member = self_;
      auto high = store_->HighSeq();
      auto records = store_->Since(request->since, request->max_records);
      if (!high || !records) break;
      reply.high_seq = *high;
      reply.records = std::move(*records);
      const std::string bytes = repl::EncodeIndexReply(reply);
      counters_.bytes_sent += bytes.size();
      if (!c.Send(FrameType::kReplIndexReply, bytes).ok()) break;
    } else if (frame->type == FrameType::kReplFileRequest) {
      auto request = repl::DecodeFileRequest(frame->payload);
      if (!request) break;
      if (!ServeFile(c, *request).ok()) break;
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

Status Member::ServeFile(Connection& c, const repl::FileRequest& request) {
  // Only what this member's own index holds, as it holds it: the path
  // never reaches the file system unless it is a live record here.
  auto record = store_->Get(request.path);
  auto refuse = [&](const std::string& why) {
    return c.Send(FrameType::kError,
                  referral::EncodeErrorPayload(
                      {referral::kStatusNotFound, request.path + ": " + why}));
  };
  if (!record || !*record || (*record)->deleted || (*record)->is_dir ||
      !((*record)->hash == request.hash)) {
    return refuse("changed since it was announced; ask again");
  }
  const fs::path path = folder_ / request.path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return refuse("not a regular file here");
  }
  auto file = repl::MappedFile::Open(path);
  if (!file || !(repl::HashBytes(file->data()) == request.hash)) {
    return refuse("changed since it was announced; ask again");
  }
  SyncChannel channel(c);
  repl::SenderOptions options;
  auto sent = repl::RunSender(channel, file->data(), options);
  counters_.bytes_sent += channel.bytes_sent();
  if (!sent) {
    spdlog::warn("DFSR3041 sending {} to {} failed: {}", request.path, c.peer(),
                 sent.error().Message());
  }
  return Status::Ok();
}

// ------------------------------------------------------------ pullers

void Member::PullLoop(MemberConfig peer) {
  auto backoff = kMinBackoff;
  std::string reported;  // the failure last logged: each new one is logged
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
      SleepFor(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff));
      continue;
    }
    Connection& c = **connection;
    spdlog::info("DFSR3021 connected to peer {} ({})", peer.name, peer.address);
    reported.clear();
    backoff = kMinBackoff;
    {
      std::lock_guard lock(links_mutex_);
      links_.insert(&c);
    }
    while (!stopping_) {
      bool got_records = false;
      Status pulled = PullOnce(c, peer.name, got_records);
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
    SleepFor(backoff);
  }
}

Status Member::PullOnce(Connection& c, const std::string& peer,
                        bool& got_records) {
  DFS_ASSIGN_OR_RETURN(repl::PeerState state, store_->Peer(peer));
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
  auto reply = repl::DecodeIndexReply(frame.payload);
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
  for (const FileRecord& remote : reply->records) {
    Status applied = ApplyRemote(c, remote);
    if (!applied.ok()) {
      if (applied.error().code != make_error_code(Errc::kInvalidArgument)) {
        return applied;  // try again later, from this record on
      }
      // Never to be applied here (a parent that is not a folder): say so
      // and go on.
      ++counters_.refused_paths;
      spdlog::error("DFSR3033 not applying {} from {}: {}", remote.path, peer,
                    applied.error().Message());
    }
    DFS_RETURN_IF_ERROR(store_->UpdatePeer(
        peer, [&](repl::PeerState& s) { s.pulled_seq = remote.seq; }));
  }
  got_records = !reply->records.empty();
  return Status::Ok();
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

Status Member::ApplyRemote(Connection& c, const FileRecord& remote) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::optional<FileRecord> local;
    repl::Decision decision;
    {
      std::lock_guard lock(apply_mutex_);
      DFS_ASSIGN_OR_RETURN(local, store_->Get(remote.path));
      decision = repl::Reconcile(local, remote, self_);
    }
    if (decision.action == repl::Action::kNothing) return Status::Ok();
    std::optional<fs::path> staged;
    if (decision.action == repl::Action::kFetch) {
      DFS_ASSIGN_OR_RETURN(staged, Stage(c, decision.result, local));
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
    return Install(decision, staged, local);
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
                               const std::optional<FileRecord>& local) {
  const fs::path staged =
      staging_dir_ / ("in-" + std::to_string(::getpid()) + "-" +
                      std::to_string(++staging_counter_));
  // A local file with the same content (a rename, a copy): no bytes move.
  auto same = store_->PathsWithHash(record.hash);
  if (same) {
    for (const std::string& candidate : *same) {
      const fs::path source = folder_ / candidate;
      std::error_code ec;
      fs::copy_file(source, staged, fs::copy_options::overwrite_existing, ec);
      if (ec) continue;
      auto hash = HashFile(staged);
      if (hash && *hash == record.hash) {
        ++counters_.files_copied_locally;
        return staged;
      }
      fs::remove(staged, ec);
    }
  }
  // Otherwise a delta against our old version, if we have one.
  std::vector<std::string> basis_paths;
  if (local && !local->deleted && !local->is_dir) {
    const fs::path old = folder_ / local->path;
    struct stat st {};
    if (::lstat(old.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      basis_paths.push_back(old.string());
    }
  }
  repl::ReceiverOptions options;
  DFS_ASSIGN_OR_RETURN(repl::Basis basis,
                       repl::Basis::Open(basis_paths, options.params.data));
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
  for (const auto& [when, path] : files) {
    if (total <= quota) break;
    const uint64_t size = fs::file_size(path, ec);
    if (fs::remove(path, ec)) {
      total -= size;
      spdlog::warn(
          "DFSR3032 conflict quota: removed the oldest kept version {}",
          path.string());
    }
  }
}

Status Member::Install(const repl::Decision& d,
                       const std::optional<fs::path>& staged,
                       const std::optional<FileRecord>& local) {
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
      DFS_RETURN_IF_ERROR(SyncParentDirectory(target.string()));
      if (::lstat(target.c_str(), &st) != 0) {
        return Fail(Errc::kIo, "installed " + target.string() + " vanished");
      }
      return Recorded(store_->Put(result, StatOf(st)));
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------ status

void Member::WriteStatusFile() {
  nlohmann::json j;
  j["member"] = self_;
  j["group"] = config_.group;
  j["pid"] = ::getpid();
  j["written_ms"] = NowMillis();
  j["local_changes"] = counters_.local_changes.load();
  j["files_received"] = counters_.files_received.load();
  j["files_copied_locally"] = counters_.files_copied_locally.load();
  j["bytes_received"] = counters_.bytes_received.load();
  j["content_bytes_received"] = counters_.content_bytes_received.load();
  j["bytes_sent"] = counters_.bytes_sent.load();
  j["conflicts"] = counters_.conflicts.load();
  j["deletes_applied"] = counters_.deletes_applied.load();
  j["refused"] = counters_.refused_paths.load();
  (void)WriteFileAtomically((config_.state_dir / "counters.json").string(),
                            j.dump() + "\n");
}

}  // namespace dfs::dfsrd
