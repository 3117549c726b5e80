// dfsd's side of a domain namespace: keeps its LMDB store a mirror of the
// namespace under an etcd prefix, on dfsd's io thread.
//
// It reads everything once (when the store holds no etcd revision yet, or
// the revision it holds was compacted away in etcd) and then watches the
// prefix from the revision after the one the store holds, applying each
// revision's events as one store change (Store::ApplyMirrored: the
// revision is kept in the same transaction, so a restart resumes exactly
// there and nothing is applied twice). dfsd answers referrals from the
// store as always: while etcd is unreachable it answers from what it has.
//
// Every `health_interval` it reads the marker key (a linearizable read):
// when no member answers it reports etcd unreachable (log DFS1031,
// dfs_etcd_connected 0); when a member answers but the watch's member is
// another one, or the marker has moved past what the watch delivered for
// two checks running (a member that hangs without closing), it restarts
// the watch on the member that answered.
// Thread-safety: the io thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "dfs/common/asio.h"
#include "dfs/domain_net/etcd_client.h"
#include "dfs/ns/store.h"
#include "dfs/referral_net/server.h"

namespace dfs::domain_net {

struct MirrorOptions {
  EtcdOptions etcd;
  std::string prefix;
  std::chrono::milliseconds health_interval{1000};
};

// `wrote` runs after each change written to the store.
// Errors: the client's (bad endpoints), a bad prefix.
Result<std::unique_ptr<referral_net::StoreSource>> StartMirror(
    boost::asio::io_context& io, ns::Store& store, MirrorOptions options,
    std::function<void()> wrote = [] {});

}  // namespace dfs::domain_net
