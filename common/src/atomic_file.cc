#include "dfs/common/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

namespace dfs {
namespace {

Error IoError(const std::string& what, int err) {
  return MakeError(Errc::kIo, what + ": " + std::strerror(err));
}

// Temp files in progress, for a signal handler to remove: fixed slots of
// plain characters (a handler may not allocate or lock).
constexpr size_t kTempSlots = 64;
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 live
  char path[4096];
};
TempSlot g_temp_slots[kTempSlots];

int RegisterTemp(const std::string& path) {
  if (path.size() >= sizeof(TempSlot::path)) return -1;
  for (size_t i = 0; i < kTempSlots; ++i) {
    int expected = 0;
    if (g_temp_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_temp_slots[i].path, path.c_str(), path.size() + 1);
      g_temp_slots[i].state.store(2);
      return static_cast<int>(i);
    }
  }
  return -1;  // more at once than slots: those are not cleaned on signals
}

void UnregisterTemp(int slot) {
  if (slot >= 0) g_temp_slots[slot].state.store(0);
}

extern "C" void RemoveTempsAndDie(int sig) {
  for (auto& slot : g_temp_slots) {
    if (slot.state.load() == 2) ::unlink(slot.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void RemoveTempFilesOnSignals() {
  struct sigaction action {};
  action.sa_handler = RemoveTempsAndDie;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

Result<AtomicFile> AtomicFile::Create(const std::string& path) {
  const std::filesystem::path out(path);
  const auto dir =
      out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
  std::string hidden(1, '.');  // (not "." + name: g++ 12 -Wrestrict misfires)
  hidden.append(out.filename().string()).append(".dfs-");
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kLetters[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = hidden;
    for (int i = 0; i < 6; ++i) name.push_back(kLetters[rng() % 62]);
    std::string temp = (dir / name).string();
    const int fd =
        ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return Unexpected(IoError("cannot create a file beside " + path, errno));
    }
    struct stat existing {};
    if (::stat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
      if (::fchown(fd, existing.st_uid, existing.st_gid) != 0) {
        // Not ours to give away (not root): the file stays ours.
      }
      ::fchmod(fd, existing.st_mode & 0777);
    }
    AtomicFile file;
    file.path_ = path;
    file.temp_path_ = std::move(temp);
    file.fd_ = fd;
    file.slot_ = RegisterTemp(file.temp_path_);
    return file;
  }
  return Fail(Errc::kIo, "cannot create a file beside " + path +
                             ": every temp name taken");
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      fd_(std::exchange(other.fd_, -1)),
      appended_(other.appended_),
      committed_(other.committed_),
      slot_(std::exchange(other.slot_, -1)) {}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  UnregisterTemp(slot_);
}

Status AtomicFile::WriteAt(const void* data, size_t size, uint64_t offset) {
  auto* at = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, at, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unexpected(IoError(errno == ENOSPC ? "disk full writing " + path_
                                                : "cannot write " + temp_path_,
                                errno));
    }
    at += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::Write(std::string_view bytes) {
  DFS_RETURN_IF_ERROR(WriteAt(bytes.data(), bytes.size(), appended_));
  appended_ += bytes.size();
  return Status::Ok();
}

Status AtomicFile::Commit(bool durable) {
  if (fd_ < 0 || committed_) {
    return Fail(Errc::kInvalidArgument, "file already installed or closed");
  }
  if (durable && ::fsync(fd_) != 0) {
    return Unexpected(IoError("cannot sync " + temp_path_, errno));
  }
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) {
    return Unexpected(IoError("cannot write " + temp_path_, errno));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Unexpected(IoError("cannot install " + path_, errno));
  }
  committed_ = true;
  UnregisterTemp(std::exchange(slot_, -1));
  // The rename lives in the directory: without syncing it, a crash can
  // bring the old name back while a record elsewhere (an LMDB commit that
  // followed) already says the new file is there.
  if (durable) DFS_RETURN_IF_ERROR(SyncParentDirectory(path_));
  return Status::Ok();
}

Status SyncParentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unexpected(IoError("cannot open " + dir, errno));
  const int synced = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (synced != 0) return Unexpected(IoError("cannot sync " + dir, saved));
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes,
                           bool durable) {
  DFS_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  DFS_RETURN_IF_ERROR(file.Write(bytes));
  return file.Commit(durable);
}

}  // namespace dfs
