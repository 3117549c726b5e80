// One thread that accepts connections on a listening socket and serves
// them one at a time: the mount's control socket and its metrics endpoint.
// Backs off when out of descriptors instead of spinning on accept.
// Thread-safety: `serve` runs on the loop's thread; the destructor stops it.
#pragma once

#include <functional>
#include <string_view>
#include <thread>

namespace dfs::client_net {

class AcceptLoop {
 public:
  AcceptLoop() = default;
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;
  // Stops serving and closes the listening socket.
  ~AcceptLoop();

  // Serves `listen_fd` (owned from now on), calling `serve(fd)` for each
  // connection; the loop closes `fd` after it. Returns false (and closes
  // `listen_fd`) when the wake-up pipe cannot be made.
  bool Start(int listen_fd, std::function<void(int fd)> serve);

 private:
  void Run();
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::function<void(int)> serve_;
  std::thread thread_;
};

// Sends all of `bytes` (MSG_NOSIGNAL); false on error or timeout.
bool SendAll(int fd, std::string_view bytes);

}  // namespace dfs::client_net
