#define FUSE_USE_VERSION 31
#include "mount.h"

#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>

#include "dfs/ns/path.h"

namespace dfs::tools {
namespace {

// Each try resolves and, on a target failure, reports it and moves on;
// bounded so that a flapping namespace cannot loop a request forever.
constexpr int kMaxTries = 8;

struct MountContext {
  client::Client* client;
  MountOptions options;
};

MountContext& Context() {
  return *static_cast<MountContext*>(fuse_get_context()->private_data);
}

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

// Runs `op(local_path, resolution)` (0 or -errno) on the active target of
// `unc`, failing over when the target is in trouble: an I/O-type error,
// or a missing file on a target that no longer answers its check.
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
    if (rc == 0) return 0;
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

int DfsGetattr(const char* path, struct stat* st, fuse_file_info*) {
  std::memset(st, 0, sizeof *st);
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
  return WithFailover(unc, [&](const std::string& local, const auto&) {
    if (::stat(local.c_str(), st) != 0) return -errno;
    ReadOnly(st);
    return 0;
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
    const int rc =
        WithFailover(unc, [&](const std::string& local, const auto&) {
          DIR* dir = ::opendir(local.c_str());
          if (dir == nullptr) return -errno;
          errno = 0;
          while (dirent* d = ::readdir(dir)) {
            if (std::strcmp(d->d_name, ".") && std::strcmp(d->d_name, "..")) {
              names.insert(d->d_name);
            }
          }
          const int err = errno;
          ::closedir(dir);
          return -err;
        });
    if (rc != 0 && !(depth == 1 && rc == -ENOENT)) return rc;
  }
  for (const auto& name : names) {
    fill(buf, name.c_str(), nullptr, 0, fuse_fill_dir_flags{});
  }
  return 0;
}

// An open file: the descriptor on the current target, replaced when that
// target fails mid-read.
struct OpenFile {
  std::mutex mu;
  int fd = -1;
  std::string unc;
  // Where `fd` was opened: the target to report when it fails.
  std::string prefix, target;
};

int OpenOnActive(OpenFile& file) {
  return WithFailover(
      file.unc, [&](const std::string& local, const client::Resolution& r) {
        const int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
          ::close(fd);
          return -EISDIR;
        }
        if (file.fd >= 0) ::close(file.fd);
        file.fd = fd;
        file.prefix = r.prefix;
        file.target = r.ActiveTarget().unc;
        return 0;
      });
}

int DfsOpen(const char* path, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  auto file = std::make_unique<OpenFile>();
  file->unc = ToUnc(path);
  const int rc = OpenOnActive(*file);
  if (rc != 0) return rc;
  fi->fh = reinterpret_cast<uint64_t>(file.release());
  return 0;
}

int DfsRead(const char*, char* buf, size_t size, off_t offset,
            fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  std::lock_guard lock(file->mu);
  for (int attempt = 0; attempt < kMaxTries; ++attempt) {
    const ssize_t n = ::pread(file->fd, buf, size, offset);
    if (n >= 0) return static_cast<int>(n);
    const int err = errno;
    if (!IsTargetFailure(err)) return -err;
    // The target went away mid-read: report the one this descriptor is
    // on, reopen the same file on the next target and carry on at the
    // same offset.
    Context().client->ReportFailure(file->prefix, file->target);
    const int rc = OpenOnActive(*file);
    if (rc != 0) return rc;
  }
  return -EIO;
}

int DfsRelease(const char*, fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  if (file->fd >= 0) ::close(file->fd);
  delete file;
  return 0;
}

int DfsWriteAttempt(const char*, mode_t, fuse_file_info*) { return -EROFS; }

void* DfsInit(fuse_conn_info*, fuse_config* cfg) {
  // Content changes under us (replication): the kernel must not keep
  // pages across opens, and attributes are trusted for one second.
  cfg->kernel_cache = 0;
  cfg->entry_timeout = 1.0;
  cfg->attr_timeout = 1.0;
  cfg->negative_timeout = 1.0;
  return fuse_get_context()->private_data;
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

int RunMount(client::Client& client, const MountOptions& options) {
  static MountContext context;
  context.client = &client;
  context.options = options;

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
  if (fuse_mount(fs, options.mountpoint.c_str()) != 0) {
    std::cerr << "dfsclient: cannot mount at " << options.mountpoint
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
            << options.mountpoint << std::endl;
  const int rc = fuse_loop_mt(fs, 0);
  // A signal ends the loop with the signal's number (libfuse's handler
  // records it as the session's error): that is a clean stop.
  const bool clean = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP;
  fuse_remove_signal_handlers(session);
  fuse_unmount(fs);
  fuse_destroy(fs);
  std::cout << "dfsclient: unmounted " << options.mountpoint << std::endl;
  return clean ? 0 : 1;
}

}  // namespace dfs::tools
