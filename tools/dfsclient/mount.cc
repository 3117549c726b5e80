#define FUSE_USE_VERSION 31
#include "mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "dfs/client/control.h"
#include "dfs/client_net/control_socket.h"
#include "dfs/client_net/deadline_pool.h"
#include "dfs/client_net/metrics_http.h"
#include "dfs/ns/path.h"
#include "output.h"

namespace dfs::tools {
namespace {

namespace fs = std::filesystem;
using client_net::CallOutcome;
using client_net::DeadlinePool;

// Each try resolves and, on a target failure, reports it and moves on;
// bounded so that a flapping namespace cannot loop a request forever.
constexpr int kMaxTries = 8;
// A failover found a copy that is not the one being read: the read ends
// with EIO. Private to this file (never returned to the kernel as is).
constexpr int kCopiesDiffer = -100000;

struct MountContext {
  client::Client* client = nullptr;
  MountOptions options;
  std::chrono::milliseconds op_timeout{1000};
  DeadlinePool* pool = nullptr;
  MountMetrics* metrics = nullptr;
};

// One mount per process: the FUSE callbacks, the helper threads and the
// descriptors closing on them all reach it here. Set before the mount
// starts; the pool it points to lives until the process exits.
MountContext* g_mount = nullptr;

MountContext& Context() { return *g_mount; }

std::string ToUnc(const char* path) {
  std::string unc = "\\\\" + Context().options.domain;
  for (const char* p = path; *p; ++p) unc += *p == '/' ? '\\' : *p;
  if (unc.back() == '\\') unc.pop_back();
  return unc;
}

size_t Depth(const char* path) {
  size_t depth = 0;
  for (const char* p = path; *p; ++p) {
    if (*p == '/' && p[1] != '\0') ++depth;
  }
  return depth;
}

// The content server of a target `\\server\share\...`, folded: the unit a
// hang takes down (every share of a stopped NFS or SMB server hangs).
std::string ServerKey(std::string_view target_unc) {
  std::string_view s = target_unc;
  while (!s.empty() && (s.front() == '\\' || s.front() == '/')) {
    s.remove_prefix(1);
  }
  return ns::FoldCase(s.substr(0, s.find_first_of("\\/")));
}

// A descriptor on a target. Closing one can hang too (FUSE and NFS send
// a flush on close), so the close runs on a helper thread.
struct TargetFd {
  TargetFd(int f, std::string k) : fd(f), key(std::move(k)) {}
  TargetFd(const TargetFd&) = delete;
  TargetFd& operator=(const TargetFd&) = delete;
  ~TargetFd() {
    if (fd < 0) return;
    if (g_mount && g_mount->pool) {
      g_mount->pool->RunDetached(key, [f = fd] { ::close(f); });
    } else {
      ::close(fd);
    }
  }
  const int fd;
  const std::string key;
};

// Runs `work` (0 or more on success, -errno on failure) against the
// target `target_unc` on a helper thread, within the operation deadline.
// A call that does not answer in time counts as the target failing
// (ETIMEDOUT); `work` must own everything it touches, since it may finish
// long after this returns.
int Bounded(TargetOp op, const std::string& target_unc,
            std::function<int()> work) {
  MountContext& ctx = Context();
  auto rc = std::make_shared<int>(-EIO);
  const auto start = std::chrono::steady_clock::now();
  const CallOutcome outcome = ctx.pool->Run(
      ServerKey(target_unc), [rc, work = std::move(work)] { *rc = work(); },
      ctx.op_timeout);
  const auto took = std::chrono::steady_clock::now() - start;
  ctx.metrics->Observe(op, took, outcome,
                       outcome == CallOutcome::kDone && *rc < 0);
  switch (outcome) {
    case CallOutcome::kDone:
      return *rc;
    case CallOutcome::kTimedOut:
      spdlog::warn(
          "DFSC2008 {} on {} did not answer within {} ms: the target counts "
          "as failed",
          TargetOpName(op), target_unc, ctx.op_timeout.count());
      return -ETIMEDOUT;
    case CallOutcome::kRefused:
      // Still hung from earlier calls: fail at once, no new thread.
      return -ETIMEDOUT;
  }
  return -EIO;
}

// Runs `op(local_path, resolution)` (0 or -errno) on the active target of
// `unc`, failing over when the target is in trouble: an I/O-type error,
// a timeout, or a missing file on a target that no longer answers its
// check.
template <typename Op>
int WithFailover(const std::string& unc, Op op) {
  client::Client& c = *Context().client;
  for (int attempt = 0; attempt < kMaxTries; ++attempt) {
    auto r = c.Resolve(unc, /*require_reachable=*/false);
    if (!r) return -ErrnoFor(r.error());
    if (r->ActiveTarget().state == client::TargetState::kUnreachable) {
      // A root's own targets are namespace servers, usually not mounted
      // on a web node: below a root, outside any folder, is "not there".
      return r->root_referral ? -ENOENT : -EIO;
    }
    const int rc = op(r->local_path, *r);
    if (rc >= 0 || rc == kCopiesDiffer) return rc;
    const bool gone =
        IsTargetFailure(-rc) || ((rc == -ENOENT || rc == -ENOTDIR) &&
                                 !c.CheckNow(r->ActiveTarget().unc));
    if (!gone) return rc;
    c.ReportFailure(r->prefix, r->ActiveTarget().unc);
  }
  return -EIO;
}

void ReadOnly(struct stat* st) {
  st->st_mode &= ~static_cast<mode_t>(S_IWUSR | S_IWGRP | S_IWOTH);
}

// An open file: the descriptor on the target it was opened on, replaced
// only by the same version of the file on another target.
struct OpenFile {
  std::mutex mu;
  std::shared_ptr<TargetFd> fd;
  std::string unc;
  // Where `fd` was opened: the target to report when it fails.
  std::string prefix, target;
  // The copy being read, as fstat saw it at open: a read continues on
  // another target only where the file has this size and mtime, and
  // fstat() on the open file answers this.
  struct stat version {};
  // A failover met a different copy: every further read fails (EIO).
  bool broken = false;
  // Reused while no abandoned read still writes into it.
  std::shared_ptr<std::vector<char>> buffer;
};

bool SameVersion(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Opens `file` on the active target. With `continuing`, the copy there
// must be the version already being read, or kCopiesDiffer.
int OpenOnActive(OpenFile& file, bool continuing) {
  return WithFailover(
      file.unc, [&](const std::string& local, const client::Resolution& r) {
        struct Opened {
          std::shared_ptr<TargetFd> fd;
          struct stat st {};
        };
        auto opened = std::make_shared<Opened>();
        const std::string target = r.ActiveTarget().unc;
        const int rc = Bounded(
            TargetOp::kOpen, target, [opened, local, key = ServerKey(target)] {
              const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
              if (fd < 0) return -errno;
              opened->fd = std::make_shared<TargetFd>(fd, key);
              if (::fstat(fd, &opened->st) != 0) return -errno;
              return S_ISDIR(opened->st.st_mode) ? -EISDIR : 0;
            });
        if (rc != 0) return rc;
        if (continuing && !SameVersion(opened->st, file.version)) {
          return kCopiesDiffer;
        }
        file.fd = std::move(opened->fd);
        if (!continuing) file.version = opened->st;
        file.prefix = r.prefix;
        file.target = target;
        return 0;
      });
}

int DfsGetattr(const char* path, struct stat* st, fuse_file_info* fi) {
  std::memset(st, 0, sizeof *st);
  if (fi != nullptr && fi->fh != 0) {
    // fstat() of an open file: the copy it reads, whatever target the
    // path resolves to now (so Content-Length matches the body).
    auto* file = reinterpret_cast<OpenFile*>(fi->fh);
    std::lock_guard lock(file->mu);
    *st = file->version;
    ReadOnly(st);
    return 0;
  }
  const size_t depth = Depth(path);
  if (depth == 0) {  // "/"
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    return 0;
  }
  const std::string unc = ToUnc(path);
  if (depth == 1) {
    // A root is a directory whenever the namespace has it, whether or not
    // its namespace servers' shares are mounted here.
    auto r = Context().client->Resolve(unc, /*require_reachable=*/false);
    if (!r) return -ErrnoFor(r.error());
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    return 0;
  }
  return WithFailover(
      unc, [&](const std::string& local, const client::Resolution& r) {
        auto result = std::make_shared<struct stat>();
        const int rc =
            Bounded(TargetOp::kGetattr, r.ActiveTarget().unc, [result, local] {
              return ::stat(local.c_str(), result.get()) == 0 ? 0 : -errno;
            });
        if (rc == 0) {
          *st = *result;
          ReadOnly(st);
        }
        return rc;
      });
}

int DfsReaddir(const char* path, void* buf, fuse_fill_dir_t fill, off_t,
               fuse_file_info*, fuse_readdir_flags) {
  fill(buf, ".", nullptr, 0, fuse_fill_dir_flags{});
  fill(buf, "..", nullptr, 0, fuse_fill_dir_flags{});
  MountContext& ctx = Context();
  std::set<std::string> names;
  const size_t depth = Depth(path);
  if (depth == 0) {  // "/"
    names.insert(ctx.options.roots.begin(), ctx.options.roots.end());
    for (const auto& e : ctx.client->Entries()) {
      ns::NormalizedPath p;
      if (ns::NormalizeUnc(e.referral.prefix, 2, p) &&
          ns::FoldCase(p.Display(0)) == ns::FoldCase(ctx.options.domain)) {
        names.insert(std::string(p.Display(1)));
      }
    }
  } else {
    const std::string unc = ToUnc(path);
    if (depth == 1) {
      // The folders of a root this node has resolved (a referral server
      // does not enumerate); opening any folder by name works regardless.
      ns::NormalizedPath root;
      if (ns::NormalizeUnc(unc, 2, root)) {
        for (const auto& e : ctx.client->Entries()) {
          ns::NormalizedPath p;
          if (!e.referral.root_referral &&
              ns::NormalizeUnc(e.referral.prefix, 2, p) && p.count == 3 &&
              p.FoldedRange(0, 2) == root.FoldedRange(0, 2)) {
            names.insert(std::string(p.Display(2)));
          }
        }
      }
    }
    const int rc = WithFailover(unc, [&](const std::string& local,
                                         const client::Resolution& r) {
      auto listed = std::make_shared<std::vector<std::string>>();
      const int rc =
          Bounded(TargetOp::kReaddir, r.ActiveTarget().unc, [listed, local] {
            DIR* dir = ::opendir(local.c_str());
            if (dir == nullptr) return -errno;
            errno = 0;
            while (dirent* d = ::readdir(dir)) {
              if (std::strcmp(d->d_name, ".") && std::strcmp(d->d_name, "..")) {
                listed->push_back(d->d_name);
              }
            }
            const int err = errno;
            ::closedir(dir);
            return -err;
          });
      if (rc == 0) names.insert(listed->begin(), listed->end());
      return rc;
    });
    if (rc != 0 && !(depth == 1 && rc == -ENOENT)) return rc;
  }
  for (const auto& name : names) {
    fill(buf, name.c_str(), nullptr, 0, fuse_fill_dir_flags{});
  }
  return 0;
}

int DfsOpen(const char* path, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  auto file = std::make_unique<OpenFile>();
  file->unc = ToUnc(path);
  const int rc = OpenOnActive(*file, /*continuing=*/false);
  if (rc != 0) return rc == kCopiesDiffer ? -EIO : rc;
  // Reads bypass the kernel's page cache: it is per path, shared by every
  // open of the file, so pages read from one target's copy would be served
  // to a reader of the other's after a switch. Each read goes to the
  // descriptor of its own open instead.
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->fh = reinterpret_cast<uint64_t>(file.release());
  return 0;
}

int DfsRead(const char*, char* buf, size_t size, off_t offset,
            fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  std::lock_guard lock(file->mu);
  for (int attempt = 0; attempt < kMaxTries; ++attempt) {
    if (file->broken) return -EIO;
    if (!file->buffer || file->buffer.use_count() > 1 ||
        file->buffer->size() < size) {
      file->buffer = std::make_shared<std::vector<char>>(size);
    }
    const int n = Bounded(TargetOp::kRead, file->target,
                          [fd = file->fd, data = file->buffer, size, offset] {
                            const ssize_t got =
                                ::pread(fd->fd, data->data(), size, offset);
                            return got >= 0 ? static_cast<int>(got) : -errno;
                          });
    if (n >= 0) {
      std::memcpy(buf, file->buffer->data(), static_cast<size_t>(n));
      return n;
    }
    if (!IsTargetFailure(-n)) return n;
    // The target failed mid-read: report the one this descriptor is on
    // and continue on the next target, if its copy is the same version.
    const std::string failed = file->target;
    Context().client->ReportFailure(file->prefix, failed);
    const int rc = OpenOnActive(*file, /*continuing=*/true);
    if (rc == kCopiesDiffer) {
      file->broken = true;
      Context().metrics->ReadRefusedDiffers();
      spdlog::warn(
          "DFSC2007 read of {} failed at offset {}: {} failed ({}) and the "
          "next target's copy differs in size or mtime; EIO rather than a "
          "mix of two copies (the next open reads the new copy whole)",
          file->unc, offset, failed, std::strerror(-n));
      return -EIO;
    }
    if (rc != 0) return rc;
    Context().metrics->ReadContinued();
    spdlog::info(
        "DFSC2006 read of {} continues at offset {} on {} ({} failed: {}); "
        "same size and mtime",
        file->unc, offset, file->target, failed, std::strerror(-n));
  }
  return -EIO;
}

int DfsRelease(const char*, fuse_file_info* fi) {
  // The descriptor closes on a helper thread (TargetFd).
  delete reinterpret_cast<OpenFile*>(fi->fh);
  return 0;
}

int DfsWriteAttempt(const char*, mode_t, fuse_file_info*) { return -EROFS; }

void* DfsInit(fuse_conn_info*, fuse_config* cfg) {
  // Content changes under us (replication) and the target behind a path
  // changes on failover: no page cache across opens (reads are direct),
  // and attributes are not cached, so a stat() always describes the copy
  // it will read (fstat of an open file answers from that file). Names
  // are trusted for a second.
  cfg->kernel_cache = 0;
  cfg->direct_io = 1;
  cfg->entry_timeout = 1.0;
  cfg->attr_timeout = 0.0;
  cfg->negative_timeout = 1.0;
  return fuse_get_context()->private_data;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Whether a dfs mount at `mountpoint` answers: stat() through it on a
// helper thread, within the deadline (a stopped dfsclient would hang us).
enum class MountHealth { kAnswers, kDead, kHung };
MountHealth ProbeMount(const std::string& mountpoint,
                       std::chrono::milliseconds timeout, DeadlinePool& pool) {
  auto err = std::make_shared<int>(0);
  const auto outcome = pool.Run(
      "mountpoint",
      [err, mountpoint] {
        struct stat st {};
        *err = ::stat(mountpoint.c_str(), &st) == 0 ? 0 : errno;
      },
      timeout);
  if (outcome != CallOutcome::kDone) return MountHealth::kHung;
  return *err == 0 ? MountHealth::kAnswers : MountHealth::kDead;
}

// Makes `mountpoint` ready: a dfs mount left by a dfsclient that died
// (SIGKILL, a crash: the kernel answers ENOTCONN) is detached; a live or
// hung one, or another file system's dead mount, is refused.
Status PrepareMountpoint(const std::string& mountpoint,
                         std::chrono::milliseconds timeout,
                         DeadlinePool& pool) {
  if (!HasDfsMountAt(ReadText("/proc/self/mountinfo"), mountpoint)) {
    struct stat st {};
    if (::stat(mountpoint.c_str(), &st) != 0) {
      return Fail(Errc::kIo, mountpoint + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }
  switch (ProbeMount(mountpoint, timeout, pool)) {
    case MountHealth::kAnswers:
      return Fail(Errc::kInvalidArgument,
                  "a running dfsclient mount is already at " + mountpoint +
                      " (stop it first)");
    case MountHealth::kHung:
      return Fail(Errc::kInvalidArgument,
                  "the dfs mount at " + mountpoint +
                      " does not answer (is its dfsclient stopped?): not "
                      "replacing it");
    case MountHealth::kDead:
      break;
  }
  if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
    // Not root: fusermount3 (setuid) may detach a FUSE mount its user made.
    const pid_t pid = fork();
    if (pid == 0) {
      execlp("fusermount3", "fusermount3", "-u", "-z", mountpoint.c_str(),
             static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      return Fail(Errc::kIo, "cannot remove the stale dfs mount at " +
                                 mountpoint + " (fusermount3 -u -z failed)");
    }
  }
  spdlog::warn(
      "DFSC2009 removed the stale dfs mount at {} (its dfsclient had died)",
      mountpoint);
  return Status::Ok();
}

// Answers `dfsclient pktinfo|pktflush|fail` from the running mount.
std::string AnswerControl(client::Client& client,
                          const client::ControlRequest& request) {
  nlohmann::json reply = {{"ok", true}};
  switch (request.command) {
    case client::ControlCommand::kPktInfo:
      reply["cache"] = CacheJson(client.Entries());
      break;
    case client::ControlCommand::kPktFlush:
      client.Flush();
      spdlog::info("DFSC2012 referral cache flushed (dfsclient pktflush)");
      break;
    case client::ControlCommand::kFail: {
      auto r = client.Resolve(request.path, false);
      if (!r)
        return nlohmann::json{{"ok", false}, {"error", r.error().context}}
            .dump();
      client.ReportFailure(r->prefix, r->ActiveTarget().unc);
      auto next = client.Resolve(request.path);
      if (!next) {
        return nlohmann::json{{"ok", false}, {"error", next.error().context}}
            .dump();
      }
      reply["resolution"] = ResolutionJson(*next);
      break;
    }
  }
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int ErrnoFor(const Error& error) {
  if (error.code == make_error_code(Errc::kNotFound) ||
      error.code == make_error_code(Errc::kInvalidArgument)) {
    return ENOENT;
  }
  if (error.code == make_error_code(Errc::kLimitExceeded)) return ENAMETOOLONG;
  return EIO;
}

bool IsTargetFailure(int err) {
  switch (err) {
    case EIO:
    case ENOTCONN:
    case ESTALE:
    case ETIMEDOUT:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ECONNABORTED:
    case ECONNRESET:
    case ENXIO:
    case ENODEV:
      return true;
    default:
      return false;
  }
}

bool HasDfsMountAt(const std::string& mountinfo,
                   const std::string& mountpoint) {
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE ...
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type;
    rest >> type;
    if (type == "fuse.dfs" && Unescape(point) == mountpoint) return true;
  }
  return false;
}

int RunMount(client::Client& client, const MountOptions& options,
             CacheFile& cache, MountMetrics& metrics) {
  static MountContext context;
  // Lives until the process exits: helper threads stuck in a hung target
  // may return at any time and close descriptors through it.
  static DeadlinePool* pool = new DeadlinePool(
      {.max_threads = 256,
       .max_stuck_per_key = client.config().max_stuck_per_server});
  context.client = &client;
  context.options = options;
  // As /proc/self/mountinfo names it: symlinks above the mountpoint
  // resolved, the mountpoint itself not looked at (a dead mount there
  // answers ENOTCONN).
  {
    fs::path abs = fs::absolute(options.mountpoint).lexically_normal();
    if (!abs.has_filename()) abs = abs.parent_path();
    std::error_code ec;
    const fs::path parent = fs::weakly_canonical(abs.parent_path(), ec);
    context.options.mountpoint =
        ec ? abs.string() : (parent / abs.filename()).string();
  }
  context.op_timeout = client.config().op_timeout;
  context.pool = pool;
  context.metrics = &metrics;
  g_mount = &context;
  const std::string& mountpoint = context.options.mountpoint;

  if (auto ready = PrepareMountpoint(mountpoint, context.op_timeout, *pool);
      !ready) {
    std::cerr << "dfsclient: " << ready.error().context << "\n";
    return 1;
  }

  // The cache this user's dfsclient runs share: a warm start, and the
  // state saved again at a clean stop.
  if (auto locked = cache.Lock(client.config().cache_lock_timeout); locked) {
    cache.Load(client, std::cerr);
    cache.Unlock();
  } else {
    spdlog::warn("DFSC2013 starting without the cache: {}",
                 locked.error().context);
  }
  std::unique_ptr<client_net::ControlServer> control;
  if (auto server = client_net::ControlServer::Start(
          cache.ControlSocketPath(),
          [&client](const client::ControlRequest& request) {
            return AnswerControl(client, request);
          });
      server) {
    control = std::move(*server);
  } else {
    spdlog::warn(
        "DFSC2013 no control socket ({}): dfsclient pktinfo/pktflush/fail "
        "will not reach this mount",
        server.error().context);
  }
  std::unique_ptr<client_net::MetricsHttpServer> metrics_server;
  if (!options.metrics.empty()) {
    auto server = client_net::MetricsHttpServer::Start(
        options.metrics, [&client, &metrics] {
          return metrics.Render(client.Entries(), pool->Threads());
        });
    if (!server) {
      std::cerr << "dfsclient: " << server.error().context << "\n";
      return 1;
    }
    metrics_server = std::move(*server);
    spdlog::info("DFSC2014 metrics on http://{}/metrics",
                 metrics_server->address());
  }

  fuse_operations ops{};
  ops.init = DfsInit;
  ops.getattr = DfsGetattr;
  ops.readdir = DfsReaddir;
  ops.open = DfsOpen;
  ops.read = DfsRead;
  ops.release = DfsRelease;
  ops.create = DfsWriteAttempt;

  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  std::string opts = "ro,fsname=dfs-" + options.domain + ",subtype=dfs";
  if (options.allow_other) opts += ",allow_other";
  fuse_opt_add_arg(&args, "dfsclient");
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args, opts.c_str());
  if (options.debug) fuse_opt_add_arg(&args, "-d");

  fuse* fs = fuse_new(&args, &ops, sizeof ops, &context);
  fuse_opt_free_args(&args);
  if (fs == nullptr) {
    std::cerr << "dfsclient: cannot set up FUSE\n";
    return 1;
  }
  if (fuse_mount(fs, mountpoint.c_str()) != 0) {
    std::cerr << "dfsclient: cannot mount at " << mountpoint
              << " (is /dev/fuse there and fusermount3 installed?)\n";
    fuse_destroy(fs);
    return 1;
  }
  fuse_session* session = fuse_get_session(fs);
  if (fuse_set_signal_handlers(session) != 0) {
    fuse_unmount(fs);
    fuse_destroy(fs);
    return 1;
  }
  std::cout << "dfsclient: mounted \\\\" << options.domain << " at "
            << mountpoint << std::endl;
  spdlog::info("DFSC2010 mounted \\\\{} at {} (operation deadline {} ms)",
               options.domain, mountpoint, context.op_timeout.count());
  const int rc = fuse_loop_mt(fs, 0);
  // A signal ends the loop with the signal's number (libfuse's handler
  // records it as the session's error): that is a clean stop.
  const bool clean = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP;
  fuse_remove_signal_handlers(session);
  fuse_unmount(fs);
  fuse_destroy(fs);
  control.reset();
  metrics_server.reset();
  if (cache.Lock(client.config().cache_lock_timeout)) {
    if (auto saved = cache.Save(client); !saved) {
      spdlog::warn("DFSC2013 cache not saved: {}", saved.error().context);
    }
    cache.Unlock();
  }
  spdlog::info("DFSC2011 unmounted {}", mountpoint);
  std::cout << "dfsclient: unmounted " << mountpoint << std::endl;
  return clean ? 0 : 1;
}

}  // namespace dfs::tools
