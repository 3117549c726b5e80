// Which puller is fetching which path, so that an update two peers both
// announce (every member re-announces what it installed) crosses the
// network once: the second puller leaves the path to the first, and
// looks at it again once the first is done with it.
//
// No deadlock: a puller only waits (WaitUnclaimed) after it has released
// every claim of its round, so no puller that holds a claim is waiting.
// Thread-safety: all members may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace dfs::dfsrd {

class FetchClaims {
 public:
  // True when `path` is now `owner`'s (or was already); false when another
  // owner fetches it.
  bool Claim(const std::string& path, const std::string& owner) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = owners_.emplace(path, owner);
    return inserted || it->second == owner;
  }
  // Gives `path` up if `owner` holds it; wakes those waiting for it.
  void Release(const std::string& path, const std::string& owner) {
    {
      std::lock_guard lock(mutex_);
      auto it = owners_.find(path);
      if (it == owners_.end() || it->second != owner) return;
      owners_.erase(it);
    }
    released_.notify_all();
  }
  // Waits until nobody holds `path`, at most `limit`; false on time-out.
  bool WaitUnclaimed(const std::string& path, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return released_.wait_for(lock, limit,
                              [&] { return !owners_.contains(path); });
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return owners_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable released_;
  std::map<std::string, std::string> owners_;  // path -> puller (peer name)
};

}  // namespace dfs::dfsrd
