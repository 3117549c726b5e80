// How many cores this process may run on: the CPUs of its affinity mask
// (what taskset, a cpuset cgroup or systemd's CPUAffinity= leave it), not
// every CPU of the machine as std::thread::hardware_concurrency says. A
// server sizing its thread pool by the machine would run more threads than
// it has cores whenever it is confined, and pay for it in switches.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstddef>
#include <thread>

namespace dfs {

inline size_t CoresAvailable() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    return std::max(1, CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace dfs
