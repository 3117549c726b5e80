// Runs a real binary as a child process and captures what it printed.
// Used by integration tests that drive our tools the way an admin does.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dfs::testing {

// Forks and execs `argv` with stdout and stderr on the given descriptors
// and stdin from /dev/null. Returns the child's pid.
inline pid_t SpawnChild(const std::vector<std::string>& argv, int out_fd,
                        int err_fd) {
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

struct ProcessResult {
  int exit_code = -1;
  std::string out, err;
  bool timed_out = false;  // killed by RunWithin's deadline
};

class Subprocess {
 public:
  // Starts `argv` with stdout and stderr going to files of its own.
  explicit Subprocess(const std::vector<std::string>& argv) {
    char out_tmpl[] = "/tmp/dfs-out-XXXXXX";
    char err_tmpl[] = "/tmp/dfs-err-XXXXXX";
    out_fd_ = mkstemp(out_tmpl);
    err_fd_ = mkstemp(err_tmpl);
    unlink(out_tmpl);
    unlink(err_tmpl);
    pid_ = SpawnChild(argv, out_fd_, err_fd_);
  }

  // Waits for the child; with a `deadline`, a child still running then is
  // killed (SIGKILL) and the result says so.
  ProcessResult Wait(
      std::chrono::milliseconds deadline = std::chrono::milliseconds::zero()) {
    ProcessResult r;
    int status = 0;
    if (deadline.count() > 0) {
      std::mutex mu;
      std::condition_variable cv;
      bool exited = false;
      std::thread watchdog([&] {
        std::unique_lock lock(mu);
        if (!cv.wait_for(lock, deadline, [&] { return exited; })) {
          r.timed_out = true;
          kill(pid_, SIGKILL);
        }
      });
      waitpid(pid_, &status, 0);
      {
        std::lock_guard lock(mu);
        exited = true;
      }
      cv.notify_all();
      watchdog.join();
    } else {
      waitpid(pid_, &status, 0);
    }
    r.exit_code =
        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadAll(out_fd_);
    r.err = ReadAll(err_fd_);
    close(out_fd_);
    close(err_fd_);
    return r;
  }

 private:
  static std::string ReadAll(int fd) {
    std::string s;
    lseek(fd, 0, SEEK_SET);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, n);
    return s;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
};

inline ProcessResult Run(const std::vector<std::string>& argv) {
  return Subprocess(argv).Wait();
}

// Run, but a child that has not exited within `deadline` is killed: for
// tests of things that used to hang.
inline ProcessResult RunWithin(const std::vector<std::string>& argv,
                               std::chrono::milliseconds deadline) {
  return Subprocess(argv).Wait(deadline);
}

}  // namespace dfs::testing
