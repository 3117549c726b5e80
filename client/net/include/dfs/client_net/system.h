// The client shim's real I/O: referrals from dfsd over TCP, and target
// reachability from a TCP connect probe plus a look at the mapped path.
// Thread-safety: both classes may be used from many threads at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dfs/client/client.h"

namespace dfs::client_net {

// Asks dfsd (referral/FORMAT.md framing) for REQ_GET_DFS_REFERRAL level 4.
class DfsdReferralSource final : public client::ReferralSource {
 public:
  Result<referral::DecodedResponse> Fetch(
      const std::string& server, const std::string& dfs_path,
      std::chrono::milliseconds timeout) override;
};

// A target is reachable when its probe address accepts a TCP connection
// within probe_timeout and its mapped directory can be stat()ed within
// path_timeout. The stat runs on a helper thread, so a hung mount (an NFS
// server gone, a FUSE daemon stuck) costs the caller the timeout and no
// more; while that stat is still stuck, the path counts as unreachable
// at once and no second thread is started for it.
class SystemReachabilityCheck final : public client::ReachabilityCheck {
 public:
  // `look` tells whether a mapped path answers (default: stat() finds a
  // directory); tests pass one that hangs.
  using LookFn = std::function<bool(const std::string& path)>;
  explicit SystemReachabilityCheck(const client::ClientConfig& config,
                                   LookFn look = nullptr);
  ~SystemReachabilityCheck() override;
  bool Reachable(const client::TargetLocation& target) override;

  // Connects to IP:PORT (or NAME:PORT, resolved on a helper thread when
  // `resolve` is set) within `timeout`.
  static bool ProbeTcp(const std::string& endpoint, bool resolve,
                       std::chrono::milliseconds timeout);

 private:
  struct PendingCall;
  bool PathAnswers(const std::string& path);

  std::chrono::milliseconds probe_timeout_, path_timeout_;
  LookFn look_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<PendingCall>> stuck_;
};

}  // namespace dfs::client_net
