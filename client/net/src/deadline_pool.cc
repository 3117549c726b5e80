#include "dfs/client_net/deadline_pool.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace dfs::client_net {

struct DeadlinePool::Task {
  std::string key;
  std::function<void()> work;
  // Guarded by Shared::mu.
  bool started = false, done = false;
  bool abandoned = false;  // the waiting caller gave up: skip if not started
  bool counted = false;    // counted in Shared::stuck until it finishes
  std::condition_variable done_cv;
};

struct DeadlinePool::Shared {
  explicit Shared(Limits l) : limits(l) {}
  const Limits limits;
  std::mutex mu;
  std::condition_variable work_cv;
  std::deque<std::shared_ptr<Task>> queue;
  std::map<std::string, size_t> stuck;
  size_t threads = 0, idle = 0;
  bool stopping = false;

  // Requires mu held.
  void Finish(Task& task) {
    task.done = true;
    if (task.counted) {
      auto it = stuck.find(task.key);
      if (it != stuck.end() && --it->second == 0) stuck.erase(it);
    }
    task.done_cv.notify_all();
  }
  // Requires mu held.
  bool AtLimit(const std::string& key) const {
    auto it = stuck.find(key);
    return it != stuck.end() && it->second >= limits.max_stuck_per_key;
  }

  static void WorkerLoop(std::shared_ptr<Shared> self) {
    std::unique_lock lock(self->mu);
    for (;;) {
      ++self->idle;
      self->work_cv.wait(
          lock, [&] { return self->stopping || !self->queue.empty(); });
      --self->idle;
      if (self->stopping) {
        --self->threads;
        return;
      }
      std::shared_ptr<Task> task = std::move(self->queue.front());
      self->queue.pop_front();
      if (task->abandoned) {
        // Its caller gave up before a helper was free: never start it.
        self->Finish(*task);
        continue;
      }
      task->started = true;
      lock.unlock();
      task->work();
      task->work = nullptr;  // drop the captured state on this thread
      lock.lock();
      self->Finish(*task);
    }
  }

  void Submit(const std::shared_ptr<Shared>& self, std::shared_ptr<Task> task) {
    std::unique_lock lock(mu);
    queue.push_back(std::move(task));
    if (idle == 0 && threads < limits.max_threads) {
      ++threads;
      std::thread([self] { WorkerLoop(self); }).detach();
    }
    lock.unlock();
    work_cv.notify_one();
  }
};

DeadlinePool::DeadlinePool(Limits limits)
    : shared_(std::make_shared<Shared>(limits)) {}

DeadlinePool::~DeadlinePool() {
  {
    std::lock_guard lock(shared_->mu);
    shared_->stopping = true;
  }
  shared_->work_cv.notify_all();
}

CallOutcome DeadlinePool::Run(const std::string& key,
                              std::function<void()> work,
                              std::chrono::milliseconds timeout) {
  auto task = std::make_shared<Task>();
  task->key = key;
  task->work = std::move(work);
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->AtLimit(key)) return CallOutcome::kRefused;
  }
  shared_->Submit(shared_, task);
  std::unique_lock lock(shared_->mu);
  if (task->done_cv.wait_for(lock, timeout, [&] { return task->done; })) {
    return CallOutcome::kDone;
  }
  task->abandoned = true;
  task->counted = true;
  ++shared_->stuck[key];
  return CallOutcome::kTimedOut;
}

void DeadlinePool::RunDetached(const std::string& key,
                               std::function<void()> work) {
  auto task = std::make_shared<Task>();
  task->key = key;
  task->work = std::move(work);
  task->counted = true;  // nobody waits for it: counted until it returns
  {
    std::lock_guard lock(shared_->mu);
    if (shared_->AtLimit(key)) return;
    ++shared_->stuck[key];
  }
  shared_->Submit(shared_, std::move(task));
}

size_t DeadlinePool::StuckCalls(const std::string& key) const {
  std::lock_guard lock(shared_->mu);
  auto it = shared_->stuck.find(key);
  return it == shared_->stuck.end() ? 0 : it->second;
}

size_t DeadlinePool::Threads() const {
  std::lock_guard lock(shared_->mu);
  return shared_->threads;
}

}  // namespace dfs::client_net
