// The replica's side of namespace replication (dfsd --replica-of): one
// authenticated PeerLink to the primary at a time; it asks for the change
// log since its own serial, applies what comes, fetches a snapshot when
// the primary says it is too far behind (or sends what does not apply),
// and backs off when the primary claims more than it sends. Any failure
// drops the link and tries again after a pause: a dead, hung or lying
// primary costs a log line, while referrals keep coming from the local
// store (the StoreRefresher picks up what was applied).
#pragma once

#include <chrono>
#include <string>

#include "dfs/common/asio.h"
#include "dfs/ns/store.h"
#include "dfs/referral_net/peer_link.h"

namespace dfs::referral_net {

struct FollowerOptions {
  boost::asio::ip::tcp::endpoint primary;
  std::string primary_name;                  // as given, for the log
  std::string key;                           // the replica key both sides prove
  std::chrono::milliseconds timeout{10000};  // per exchange
  std::chrono::milliseconds interval{200};   // between polls
  std::chrono::milliseconds max_stall_pause{5000};
};

class NamespaceFollower {
 public:
  // `store` must outlive the follower.
  NamespaceFollower(boost::asio::io_context& io, ns::Store& store,
                    FollowerOptions options);
  void Start();
  void Stop() { stopping_ = true; }

 private:
  boost::asio::awaitable<void> Loop();
  // One session on an open link, until it fails or we stop.
  boost::asio::awaitable<void> Follow(PeerLink& link);
  boost::asio::awaitable<bool> FetchSnapshot(PeerLink& link);

  boost::asio::io_context& io_;
  ns::Store& store_;
  FollowerOptions options_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
