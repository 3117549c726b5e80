// A long-running child process (a server under test) whose stdout we read
// line by line with a deadline, and which we can signal. Stderr goes to a
// file the test can print when something fails.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "testing/subprocess.h"

namespace dfs::testing {

class Daemon {
 public:
  explicit Daemon(const std::vector<std::string>& argv) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) std::abort();
    char err_tmpl[] = "/tmp/dfs-daemon-err-XXXXXX";
    int err_fd = mkstemp(err_tmpl);
    err_path_ = err_tmpl;
    pid_ = SpawnChild(argv, out[1], err_fd);
    close(out[1]);
    close(err_fd);
    out_fd_ = out[0];
  }
  ~Daemon() {
    Kill(SIGKILL);
    if (out_fd_ >= 0) close(out_fd_);
    unlink(err_path_.c_str());
  }

  // The next line of stdout, or nullopt when none comes within `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[512];
      const ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // Sends `sig` and reaps the process; returns its wait status.
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  pid_t pid() const { return pid_; }

  std::string Stderr() const {
    std::ifstream in(err_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::string err_path_;
};

}  // namespace dfs::testing
