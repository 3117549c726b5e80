// Files that appear whole or not at all: written to a hidden temp file
// beside the destination (`.NAME.dfs-XXXXXX`, created O_EXCL, so writers
// never share one) and renamed over it when complete. A reader, or a
// crash, sees the old file or the new one, never half of one.
//
// The temp file gets the mode a new file would get (0666 less the umask,
// applied by the kernel: no umask() calls, which race with other threads
// creating files) or, when it replaces a regular file, that file's
// permission bits (set-user/group-id dropped: the content is new) and,
// where the process may, its owner, as rsync keeps an existing file's
// permissions.
// Thread-safety: one AtomicFile belongs to one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dfs/common/error.h"
#include "dfs/common/result.h"

namespace dfs {

class AtomicFile {
 public:
  // Errors: kIo (the directory is missing or not writable, ...).
  static Result<AtomicFile> Create(const std::string& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  // Removes the temp file unless Commit succeeded.
  ~AtomicFile();

  // Appends. Errors: kIo ("disk full writing ..." on ENOSPC).
  Status Write(std::string_view bytes);
  // Writes at `offset` (for writers that place pieces themselves).
  Status WriteAt(const void* data, size_t size, uint64_t offset);
  // With `durable`, fsyncs first; then renames over the destination, and
  // with `durable` fsyncs its directory (so the rename survives a crash).
  Status Commit(bool durable);

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile() = default;
  std::string path_, temp_path_;
  int fd_ = -1;
  uint64_t appended_ = 0;
  bool committed_ = false;
  int slot_ = -1;  // in the registry RemoveTempFilesOnSignals cleans
};

// For tools (dfsdelta): SIGINT, SIGTERM and SIGHUP remove every temp file
// an AtomicFile holds (up to 64 at once), then end the process as the
// signal would. Without it, an interrupted patch leaves its full-size temp
// file behind.
void RemoveTempFilesOnSignals();

// fsyncs the directory holding `path` (after a rename into it).
Status SyncParentDirectory(const std::string& path);

// The whole of `bytes` as `path`, through an AtomicFile.
Status WriteFileAtomically(const std::string& path, std::string_view bytes,
                           bool durable = false);

}  // namespace dfs
