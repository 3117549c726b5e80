#include "cache_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "dfs/common/atomic_file.h"
#include "dfs/common/error.h"

namespace dfs::tools {
namespace {

namespace fs = std::filesystem;

std::string Why(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A folder we may keep the cache in: ours, or root's when it is not
// writable by everyone without the sticky bit (/tmp is fine).
Status CheckFolder(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return Fail(Errc::kIo, Why("cannot use the cache folder " + dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(Errc::kInvalidArgument, dir + " is not a folder");
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    return Fail(Errc::kInvalidArgument,
                "the cache folder " + dir + " belongs to uid " +
                    std::to_string(st.st_uid) + ", not to this user");
  }
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
    return Fail(Errc::kInvalidArgument,
                "the cache folder " + dir + " is writable by everyone");
  }
  return Status::Ok();
}

Status CheckOurs(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Fail(Errc::kIo, Why(path));
  if (!S_ISREG(st.st_mode)) {
    return Fail(Errc::kInvalidArgument, path + " is not a regular file");
  }
  if (st.st_uid != geteuid()) {
    return Fail(Errc::kInvalidArgument, path + " belongs to uid " +
                                            std::to_string(st.st_uid) +
                                            ", not to this user");
  }
  return Status::Ok();
}

}  // namespace

std::string DefaultCachePath() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/dfs/pkt.json";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/dfs/pkt.json";
  }
  return "/tmp/dfs-" + std::to_string(geteuid()) + "/pkt.json";
}

CacheFile::CacheFile(std::string path) : path_(std::move(path)) {}
CacheFile::~CacheFile() { Unlock(); }

void CacheFile::Unlock() {
  if (lock_fd_ >= 0) close(lock_fd_);
  lock_fd_ = -1;
}

Status CacheFile::Lock(std::chrono::milliseconds timeout) {
  const fs::path dir = fs::path(path_).parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Fail(Errc::kIo, Why("cannot create " + dir.string()));
    }
    DFS_RETURN_IF_ERROR(CheckFolder(dir.string()));
  }
  const std::string lock_path = path_ + ".lock";
  lock_fd_ = open(lock_path.c_str(),
                  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (lock_fd_ < 0) {
    return Fail(Errc::kIo, errno == ELOOP
                               ? lock_path + " is a symlink: not following it"
                               : Why("cannot open " + lock_path));
  }
  if (auto ours = CheckOurs(lock_fd_, lock_path); !ours) {
    Unlock();
    return ours;
  }
  // flock has no timed wait: try, then wait a little, until the deadline.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      Unlock();
      return Fail(Errc::kIo, Why("cannot lock " + lock_path));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      Unlock();
      return Fail(Errc::kIo, lock_path +
                                 " is held by another process for over " +
                                 std::to_string(timeout.count()) + " ms");
    }
    poll(nullptr, 0, 10);
  }
  return Status::Ok();
}

void CacheFile::Load(client::Client& client, std::ostream& warn) const {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) {
      warn << "dfsclient: warning: ignoring the cache " << path_
           << ": it is a symlink\n";
    } else if (errno != ENOENT) {
      warn << "dfsclient: warning: " << Why("cannot read " + path_) << "\n";
    }
    return;
  }
  std::string text;
  struct stat st {};
  auto ours = CheckOurs(fd, path_);
  if (ours && fstat(fd, &st) == 0 &&
      static_cast<size_t>(st.st_size) <= kMaxCacheFileBytes) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t at = 0;
    while (at < text.size()) {
      const ssize_t n = read(fd, text.data() + at, text.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    text.resize(at);
  } else if (ours) {
    warn << "dfsclient: warning: ignoring the cache " << path_
         << ": larger than " << (kMaxCacheFileBytes >> 20) << " MiB\n";
  } else {
    warn << "dfsclient: warning: ignoring the cache: " << ours.error().context
         << "\n";
  }
  close(fd);
  if (text.empty()) return;
  if (auto st2 = client.ImportState(text); !st2) {
    warn << "dfsclient: warning: ignoring the cache in " << path_ << ": "
         << st2.error().context << "\n";
  }
}

Status CacheFile::Save(const client::Client& client) const {
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return Fail(Errc::kInvalidArgument,
                  path_ + " is a symlink: not replacing it");
    }
    if (st.st_uid != geteuid()) {
      return Fail(Errc::kInvalidArgument,
                  path_ + " belongs to uid " + std::to_string(st.st_uid) +
                      ", not to this user: not replacing it");
    }
  }
  return WriteFileAtomically(path_, client.ExportState());
}

}  // namespace dfs::tools
