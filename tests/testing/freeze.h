// Freezing a process the way a hung server freezes: SIGSTOP, and then
// waiting until every one of its threads has actually stopped (kill()
// returns before a thread busy on another core has stopped: a request it
// was answering could still complete, and a test meant to see a hang
// would see an answer).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace dfs::testing {

// Whether every thread of `pid` is stopped (state T or t in its stat).
inline bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // The state follows the command name, which ends at the last ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;
    const char state = stat[close + 2];
    if (state != 'T' && state != 't') return false;
    any = true;
  }
  return any;
}

// SIGSTOP, then waits (at most `limit`) until it has taken effect.
// False when the process could not be signalled or did not stop in time.
inline bool Freeze(pid_t pid,
                   std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  if (kill(pid, SIGSTOP) != 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (AllThreadsStopped(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return AllThreadsStopped(pid);
}

}  // namespace dfs::testing
