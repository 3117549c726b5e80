// What dfsd's referral workers read on every request and its io thread
// changes now and then: the namespace index, the site table and the health
// table, behind one readers-writer lock.
//
// Why a lock and not immutable snapshots swapped through an atomic
// shared_ptr: a change to one folder of a million would then copy the
// whole index (hundreds of milliseconds and twice the memory), while a
// reader holds the lock for one lookup (about a microsecond) and a writer
// for the few mutations of one change. The lock prefers writers: under a
// steady stream of lookups a namespace change still gets in at once
// (glibc's default readers-writer lock lets readers starve it).
//
// Thread-safety: workers call Read() around each lookup; only the io
// thread writes, under Write(), and may read without a lock (no other
// thread writes).
#pragma once

#include <pthread.h>

#include <mutex>
#include <shared_mutex>

#include "dfs/ns/index.h"
#include "dfs/referral/health.h"
#include "dfs/referral/sites.h"

namespace dfs::referral_net {

// A SharedMutex (std::shared_lock, std::unique_lock) whose waiting writer
// goes before readers that arrive after it.
class WriterPreferringMutex {
 public:
  WriterPreferringMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterPreferringMutex() { pthread_rwlock_destroy(&lock_); }
  WriterPreferringMutex(const WriterPreferringMutex&) = delete;
  WriterPreferringMutex& operator=(const WriterPreferringMutex&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

struct ServingState {
  std::shared_lock<WriterPreferringMutex> Read() const {
    return std::shared_lock(mutex_);
  }
  std::unique_lock<WriterPreferringMutex> Write() const {
    return std::unique_lock(mutex_);
  }

  ns::NamespaceIndex index;
  referral::SiteTable sites;
  referral::HealthTable health;

 private:
  mutable WriterPreferringMutex mutex_;
};

}  // namespace dfs::referral_net
