// dfsd's view of its dfsrd members for the status page: every interval it
// asks each configured member (--dfsrd IP:PORT) for GET /status, bounded
// (connect, write and read within `timeout`; kMaxMemberStatusBytes), and
// keeps the latest reading of each (referral/replication_status.h). A
// member that hangs costs its own poll a timeout, nothing else.
// Thread-safety: everything on the io thread (the status page's routes
// read it there too).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dfs/common/asio.h"
#include "dfs/referral/replication_status.h"

namespace dfs::referral_net {

class DfsrdPoller {
 public:
  DfsrdPoller(boost::asio::io_context& io, std::vector<std::string> members,
              std::chrono::milliseconds interval,
              std::chrono::milliseconds timeout);
  void Start();
  void Stop() { stopping_ = true; }
  // /api/replication, now.
  std::string Json() const;
  bool configured() const { return !readings_.empty(); }

 private:
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> Poll(size_t i);
  // The member's whole answer, or why there is none.
  // `address`: the same, as configured (the Host header).
  boost::asio::awaitable<Result<std::string>> Fetch(
      boost::asio::ip::tcp::endpoint endpoint, const std::string& address);

  boost::asio::io_context& io_;
  std::chrono::milliseconds interval_, timeout_;
  std::vector<referral::MemberReading> readings_;
  // readings_[i]'s address parsed (nothing: not IP:PORT; never asked).
  std::vector<std::optional<boost::asio::ip::tcp::endpoint>> endpoints_;
  std::vector<bool> in_flight_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
