// The referral cache file a user's dfsclient runs share (client/FORMAT.md,
// "Cache file"), hardened against the things a shared folder can hold: a
// lock held forever (the wait is bounded; the caller goes on without the
// cache), symlinks planted in place of the file or its lock (never
// followed: O_NOFOLLOW), a folder or file owned by another user (refused),
// and a huge file (bounded read; an import keeps max_cache_entries).
// Thread-safety: one CacheFile belongs to one thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

#include "dfs/client/client.h"
#include "dfs/common/result.h"

namespace dfs::tools {

inline constexpr size_t kMaxCacheFileBytes = size_t{256} << 20;

// $XDG_CACHE_HOME/dfs/pkt.json, else ~/.cache/dfs/pkt.json, else
// /tmp/dfs-UID/pkt.json.
std::string DefaultCachePath();

class CacheFile {
 public:
  explicit CacheFile(std::string path);
  ~CacheFile();  // releases the lock

  // Makes the folder (0700) if missing and takes the lock within
  // `timeout`. Errors (kIo, kInvalidArgument) say why: a folder or file
  // owned by another user, a symlink, a lock held longer than `timeout`.
  Status Lock(std::chrono::milliseconds timeout);
  void Unlock();

  // Loads the file into `client`; a missing file is an empty cache, a bad
  // or unsafe one is ignored with a warning on `warn`.
  void Load(client::Client& client, std::ostream& warn) const;
  // Replaces the file. Errors: kInvalidArgument (the path is a symlink or
  // another user's file), kIo.
  Status Save(const client::Client& client) const;

  const std::string& path() const { return path_; }
  // Where a running mount's control socket is: beside the cache.
  std::string ControlSocketPath() const { return path_ + ".sock"; }

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace dfs::tools
