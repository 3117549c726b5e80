// dfsd's prober: every interval it connects to each target server (with a
// timeout) and records the result in the pure HealthTable the resolver
// asks; a server going down or coming back is logged once (DFS1001/1002).
// Names are probed at a mapped address, as IP literals, or (only with
// --probe-dns) through the system resolver; an unmapped name is not probed
// and counts as up (DFS1008, once).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "dfs/common/asio.h"
#include "dfs/referral/health.h"
#include "dfs/referral_net/server.h"
#include "metrics.h"
#include "serving_state.h"

namespace dfs::referral_net {

class Prober {
 public:
  // `servers` lists the target servers to probe (run on the io thread);
  // `state` (whose health table it records in, under the write lock) and
  // `metrics` must outlive the prober.
  Prober(boost::asio::io_context& io, ProbeOptions options, ServingState& state,
         Metrics& metrics, std::function<std::vector<std::string>()> servers);
  void Start();
  void Stop() { stopping_ = true; }
  // Called on the io thread after a server went down or came up.
  void OnHealthChange(std::function<void()> changed) {
    changed_ = std::move(changed);
  }

 private:
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> Probe(std::string server);
  // After the connect: whether the server answers as options_.check wants.
  boost::asio::awaitable<bool> Check(boost::asio::ip::tcp::socket& socket,
                                     const std::string& server);
  // Where to probe `server`; nothing when it is not to be probed.
  boost::asio::awaitable<
      std::optional<std::vector<boost::asio::ip::tcp::endpoint>>>
  EndpointsOf(const std::string& server);

  boost::asio::io_context& io_;
  ProbeOptions options_;
  ServingState& state_;
  Metrics& metrics_;
  std::function<std::vector<std::string>()> servers_;
  std::unordered_set<std::string> unprobed_;
  std::function<void()> changed_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
