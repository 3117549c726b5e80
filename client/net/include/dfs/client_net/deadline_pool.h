// Blocking file-system calls with a deadline. A call on a target that
// hangs (an NFS server gone quiet, a FUSE daemon stopped with SIGSTOP)
// cannot be cancelled: the thread making it waits in the kernel until the
// target answers. So calls run on helper threads; the caller waits up to
// its deadline and then walks away, leaving the helper stuck, never itself.
//
// What bounds the threads a hung target can hold: each call names its
// target (`key`). A call whose caller walked away counts as *stuck* against
// its key until it returns; while a key has `max_stuck_per_key` stuck
// calls, Run refuses further calls on it at once (kRefused) without using
// a thread. The pool never has more than `max_threads` helpers; a call
// that finds none free waits in the queue within its own deadline. So a
// hung target holds at most max_stuck_per_key threads plus the calls in
// flight when it hung (at most the caller's own thread count), and
// healthy targets keep the rest.
//
// Results travel through state the work function owns (captured by a
// shared_ptr): a late result lands there, never in the caller's buffers.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace dfs::client_net {

enum class CallOutcome {
  kDone,      // the work ran to the end within the deadline
  kTimedOut,  // the deadline passed first; the work may still run later
  kRefused,   // the key has too many stuck calls: not started
};

class DeadlinePool {
 public:
  struct Limits {
    size_t max_threads = 64;
    size_t max_stuck_per_key = 4;
  };
  explicit DeadlinePool(Limits limits);
  // Tells idle helpers to end; stuck ones end when their call returns.
  ~DeadlinePool();

  // Runs `work` on a helper thread and waits up to `timeout` for it.
  CallOutcome Run(const std::string& key, std::function<void()> work,
                  std::chrono::milliseconds timeout);
  // Runs `work` later without waiting (a close() that may hang); counted
  // as stuck against `key` until it returns, and dropped when the key is
  // already at its limit (the descriptor then leaks rather than a thread).
  void RunDetached(const std::string& key, std::function<void()> work);

  // Calls whose callers gave up and that have not returned yet.
  size_t StuckCalls(const std::string& key) const;
  size_t Threads() const;

 private:
  struct Task;
  struct Shared;
  // Workers hold `shared_` too, so a worker that returns from a hung
  // call after the pool is gone still finds its queue and counters.
  std::shared_ptr<Shared> shared_;
};

}  // namespace dfs::client_net
