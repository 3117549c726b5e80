// Blocking calls with a deadline: a call that hangs costs its caller the
// timeout, holds at most max_stuck_per_key helper threads, and leaves other
// keys served.
#include "dfs/client_net/deadline_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace dfs::client_net {
namespace {

using namespace std::chrono_literals;

// Work that blocks until the test opens the gate, like a read from a
// stopped FUSE daemon.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0}, left{0};
  void Pass() {
    ++entered;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
    ++left;
  }
  void Open() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(DeadlinePoolTest, ACallThatAnswersIsDone) {
  DeadlinePool pool({.max_threads = 4, .max_stuck_per_key = 2});
  auto value = std::make_shared<int>(0);
  EXPECT_EQ(pool.Run(
                "web1", [value] { *value = 42; }, 5s),
            CallOutcome::kDone);
  EXPECT_EQ(*value, 42);
  EXPECT_EQ(pool.StuckCalls("web1"), 0u);
}

TEST(DeadlinePoolTest, AHungKeyIsBoundedAndOtherKeysStillAnswer) {
  auto gate = std::make_shared<Gate>();
  DeadlinePool pool({.max_threads = 8, .max_stuck_per_key = 2});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(pool.Run(
                  "web1", [gate] { gate->Pass(); }, 50ms),
              CallOutcome::kTimedOut);
  }
  EXPECT_EQ(pool.StuckCalls("web1"), 2u);
  // At the limit, further calls are refused without a thread.
  const size_t threads = pool.Threads();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pool.Run(
                  "web1", [gate] { gate->Pass(); }, 50ms),
              CallOutcome::kRefused);
  }
  EXPECT_EQ(pool.Threads(), threads);
  EXPECT_EQ(gate->entered, 2);
  // Another server is served as usual.
  auto done = std::make_shared<std::atomic<bool>>(false);
  EXPECT_EQ(pool.Run(
                "web2", [done] { *done = true; }, 5s),
            CallOutcome::kDone);
  EXPECT_TRUE(*done);
  // When web1 answers again its stuck calls return and it is usable.
  gate->Open();
  for (int i = 0; i < 500 && pool.StuckCalls("web1") > 0; ++i) {
    std::this_thread::sleep_for(10ms);  // bounded wait for the helpers
  }
  EXPECT_EQ(pool.StuckCalls("web1"), 0u);
  EXPECT_EQ(pool.Run(
                "web1", [] {}, 5s),
            CallOutcome::kDone);
}

TEST(DeadlinePoolTest, ACallQueuedBehindBusyThreadsIsNeverStartedLate) {
  auto gate = std::make_shared<Gate>();
  DeadlinePool pool({.max_threads = 1, .max_stuck_per_key = 4});
  EXPECT_EQ(pool.Run(
                "web1", [gate] { gate->Pass(); }, 50ms),
            CallOutcome::kTimedOut);
  // The only helper is stuck: this call waits in the queue, times out,
  // and must not run once the helper is free (its caller has gone).
  auto ran = std::make_shared<std::atomic<bool>>(false);
  EXPECT_EQ(pool.Run(
                "web2", [ran] { *ran = true; }, 50ms),
            CallOutcome::kTimedOut);
  gate->Open();
  EXPECT_EQ(pool.Run(
                "web3", [] {}, 5s),
            CallOutcome::kDone);
  EXPECT_FALSE(*ran);
}

TEST(DeadlinePoolTest, DetachedWorkRunsAndCountsUntilItReturns) {
  auto gate = std::make_shared<Gate>();
  DeadlinePool pool({.max_threads = 4, .max_stuck_per_key = 1});
  pool.RunDetached("web1", [gate] { gate->Pass(); });
  EXPECT_EQ(pool.StuckCalls("web1"), 1u);
  // The key is at its limit: a second close is dropped, not queued.
  auto ran = std::make_shared<std::atomic<bool>>(false);
  pool.RunDetached("web1", [ran] { *ran = true; });
  EXPECT_EQ(pool.Run(
                "web1", [] {}, 50ms),
            CallOutcome::kRefused);
  gate->Open();
  for (int i = 0; i < 500 && pool.StuckCalls("web1") > 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(pool.StuckCalls("web1"), 0u);
  EXPECT_EQ(gate->left, 1);
  EXPECT_FALSE(*ran);
}

}  // namespace
}  // namespace dfs::client_net
