#include "dfs/client_net/system.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <thread>

#include "dfs/referral_net/client.h"

namespace dfs::client_net {

Result<referral::DecodedResponse> DfsdReferralSource::Fetch(
    const std::string& server, const std::string& dfs_path,
    std::chrono::milliseconds timeout) {
  DFS_ASSIGN_OR_RETURN(std::string bytes, referral_net::FetchReferral(
                                              server, {4, dfs_path}, timeout));
  return referral::DecodeResponse(bytes);
}

// A stat() on its own thread; whoever waits gives up after the timeout and
// the thread finishes (or stays stuck) on its own.
struct SystemReachabilityCheck::PendingStat {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool ok = false;
};

SystemReachabilityCheck::SystemReachabilityCheck(
    const client::ClientConfig& config, LookFn look)
    : probe_timeout_(config.probe_timeout),
      path_timeout_(config.path_timeout),
      look_(look ? std::move(look) : [](const std::string& path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }) {}

SystemReachabilityCheck::~SystemReachabilityCheck() = default;

namespace {

bool ConnectWithin(const sockaddr_in& addr, std::chrono::milliseconds timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  close(fd);
  return ok;
}

}  // namespace

bool SystemReachabilityCheck::ProbeTcp(const std::string& endpoint,
                                       bool resolve,
                                       std::chrono::milliseconds timeout) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = endpoint.substr(0, colon);
  const int port = std::atoi(endpoint.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1) {
    return ConnectWithin(addr, timeout);
  }
  if (!resolve) return false;
  // getaddrinfo cannot be cancelled: run it on a helper thread and stop
  // waiting at the deadline.
  auto result = std::make_shared<PendingStat>();
  auto resolved = std::make_shared<sockaddr_in>();
  std::thread([host, result, resolved] {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    const bool ok = getaddrinfo(host.c_str(), nullptr, &hints, &list) == 0 &&
                    list != nullptr;
    if (ok) *resolved = *reinterpret_cast<sockaddr_in*>(list->ai_addr);
    if (list) freeaddrinfo(list);
    std::lock_guard lock(result->mu);
    result->done = true;
    result->ok = ok;
    result->cv.notify_all();
  }).detach();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(result->mu);
  if (!result->cv.wait_until(lock, deadline, [&] { return result->done; }) ||
      !result->ok) {
    return false;
  }
  addr.sin_addr = resolved->sin_addr;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 && ConnectWithin(addr, left);
}

bool SystemReachabilityCheck::PathAnswers(const std::string& path) {
  std::shared_ptr<PendingStat> pending;
  {
    std::lock_guard lock(mu_);
    auto it = stuck_.find(path);
    if (it != stuck_.end()) pending = it->second;
  }
  if (pending) {
    // A look at this path is still hung: wait for it (up to the timeout)
    // rather than start another thread that would hang beside it.
    std::unique_lock lock(pending->mu);
    if (!pending->cv.wait_for(lock, path_timeout_,
                              [&] { return pending->done; })) {
      return false;
    }
    lock.unlock();
    std::lock_guard guard(mu_);
    if (stuck_[path] == pending) stuck_.erase(path);
  }
  pending = std::make_shared<PendingStat>();
  std::thread([path, pending, look = look_] {
    const bool ok = look(path);
    std::lock_guard lock(pending->mu);
    pending->done = true;
    pending->ok = ok;
    pending->cv.notify_all();
  }).detach();
  std::unique_lock lock(pending->mu);
  if (pending->cv.wait_for(lock, path_timeout_,
                           [&] { return pending->done; })) {
    return pending->ok;
  }
  lock.unlock();
  std::lock_guard guard(mu_);
  stuck_[path] = pending;
  return false;
}

bool SystemReachabilityCheck::Reachable(const client::TargetLocation& target) {
  if (!target.probe.empty() &&
      !ProbeTcp(target.probe, target.probe_host_name, probe_timeout_)) {
    return false;
  }
  return PathAnswers(target.local_root);
}

}  // namespace dfs::client_net
