#include "dfs/client_net/system.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>

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

// A blocking call (stat, getaddrinfo) on its own thread; whoever waits
// gives up after the timeout and the thread finishes (or stays stuck) on
// its own.
struct SystemReachabilityCheck::PendingCall {
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

bool SystemReachabilityCheck::ProbeTcp(const std::string& endpoint,
                                       bool resolve,
                                       std::chrono::milliseconds timeout) {
  // The same bounded connect dfsutil and the referral fetch use.
  auto connects = [](const std::string& ip_port, std::chrono::milliseconds t) {
    return referral_net::FramedClient::Connect(ip_port, t, 0).has_value();
  };
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = endpoint.substr(0, colon);
  in_addr literal{};
  if (inet_pton(AF_INET, host.c_str(), &literal) == 1) {
    return connects(endpoint, timeout);
  }
  if (!resolve) return false;
  // getaddrinfo cannot be cancelled: run it on a helper thread and stop
  // waiting at the deadline.
  auto call = std::make_shared<PendingCall>();
  auto address = std::make_shared<std::string>();
  std::thread([host, call, address] {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    bool ok = getaddrinfo(host.c_str(), nullptr, &hints, &list) == 0 &&
              list != nullptr;
    char text[INET_ADDRSTRLEN] = {};
    ok = ok &&
         inet_ntop(AF_INET,
                   &reinterpret_cast<sockaddr_in*>(list->ai_addr)->sin_addr,
                   text, sizeof text) != nullptr;
    if (list) freeaddrinfo(list);
    std::lock_guard lock(call->mu);
    if (ok) *address = text;
    call->done = true;
    call->ok = ok;
    call->cv.notify_all();
  }).detach();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string ip;
  {
    std::unique_lock lock(call->mu);
    if (!call->cv.wait_until(lock, deadline, [&] { return call->done; }) ||
        !call->ok) {
      return false;
    }
    ip = *address;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 && connects(ip + endpoint.substr(colon), left);
}

bool SystemReachabilityCheck::PathAnswers(const std::string& path) {
  std::shared_ptr<PendingCall> pending;
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
  pending = std::make_shared<PendingCall>();
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
