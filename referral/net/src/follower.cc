#include "follower.h"

#include <spdlog/spdlog.h>

#include "coroutines.h"
#include "dfs/common/error.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/namespace_copy.h"
#include "dfs/referral/replica_pace.h"

namespace dfs::referral_net {

NamespaceFollower::NamespaceFollower(asio::io_context& io, ns::Store& store,
                                     FollowerOptions options)
    : io_(io), store_(store), options_(std::move(options)) {}

void NamespaceFollower::Start() {
  asio::co_spawn(io_, Loop(), LogErrors("replica loop"));
}

awaitable<bool> NamespaceFollower::FetchSnapshot(PeerLink& link) {
  auto reply =
      co_await link.Exchange(referral::FrameType::kSnapshotRequest, "");
  if (!reply || reply->type != referral::FrameType::kSnapshotReply) {
    co_return false;
  }
  auto snapshot =
      ns::DecodeChangeEntry(reply->payload, ns::kMaxSnapshotMutations);
  if (!snapshot) {
    spdlog::error("DFS1014 bad snapshot from primary {}: {}",
                  options_.primary_name, snapshot.error().Message());
    co_return false;
  }
  Status replaced = store_.ReplaceWith(*snapshot);
  if (!replaced.ok()) {
    spdlog::error("DFS1005 writing the snapshot failed: {}",
                  replaced.error().Message());
    co_return false;
  }
  spdlog::info(
      "DFS1012 replica reloaded from a snapshot of {} at serial {} ({} "
      "records)",
      options_.primary_name, snapshot->serial, snapshot->mutations.size());
  co_return true;
}

awaitable<void> NamespaceFollower::Follow(PeerLink& link) {
  asio::steady_timer pause(io_);
  referral::ReplicaPace pace(options_.interval, options_.max_stall_pause);
  while (!stopping_ && link.is_open()) {
    boost::system::error_code ec;
    auto local = store_.Serial();
    if (!local) co_return;
    const std::string request =
        referral::EncodeChangesRequest({*local, referral::kMaxChangesPerReply});
    auto reply =
        co_await link.Exchange(referral::FrameType::kChangesRequest, request);
    if (!reply) {
      if (reply.error().code == make_error_code(Errc::kCorrupt)) {
        spdlog::error("DFS1014 bad frame from primary {}: {}",
                      options_.primary_name, reply.error().Message());
      }
      co_return;
    }
    if (reply->type != referral::FrameType::kChangesReply) co_return;
    auto changes = referral::DecodeChangesReply(reply->payload);
    if (!changes) {
      spdlog::error("DFS1014 bad changes from primary {}: {}",
                    options_.primary_name, changes.error().Message());
      co_return;
    }
    bool need_snapshot =
        changes->resync_needed || changes->primary_serial < *local;
    for (const auto& entry : changes->entries) {
      if (need_snapshot) break;
      if (!store_.ApplyReplicated(entry).ok()) need_snapshot = true;
    }
    if (need_snapshot && !(co_await FetchSnapshot(link))) co_return;
    auto now = store_.Serial();
    if (!now) co_return;
    const referral::ReplicaPace::Next next =
        pace.After(*local, *now, changes->primary_serial);
    if (next.fell_behind) {
      spdlog::warn("DFS1010 replica behind: serial {}, primary {}", *now,
                   changes->primary_serial);
    }
    if (next.stalled_first) {
      // The primary claims more than it sends: asking again at once would
      // spin (and load it).
      spdlog::error(
          "DFS1014 primary {} claims serial {} but sent nothing after {}; "
          "asking again later",
          options_.primary_name, changes->primary_serial, *now);
    }
    if (next.caught_up) {
      spdlog::info("DFS1011 replica caught up at serial {}",
                   changes->primary_serial);
    }
    if (next.wait.count() == 0) continue;
    pause.expires_after(next.wait);
    co_await pause.async_wait(redirect_error(use_awaitable, ec));
  }
}

awaitable<void> NamespaceFollower::Loop() {
  asio::steady_timer pause(io_);
  bool primary_lost = false;
  PeerLink link(io_.get_executor(), options_.primary, options_.key,
                referral::SessionPurpose::kReplication, options_.timeout,
                referral::kMaxReplicationFrameBytes);
  while (!stopping_) {
    Status opened = co_await link.Open();
    if (opened.ok()) {
      if (primary_lost) {
        spdlog::info("DFS1015 primary {} reachable again",
                     options_.primary_name);
      }
      primary_lost = false;
      co_await Follow(link);
      link.Close();
    } else if (opened.error().code ==
               make_error_code(Errc::kPermissionDenied)) {
      spdlog::error("DFS1014 primary {}: {}; not replicating from it",
                    options_.primary_name, opened.error().Message());
    } else if (!primary_lost) {
      primary_lost = true;
      spdlog::warn(
          "DFS1013 primary {} unreachable ({}); serving the local copy",
          options_.primary_name, opened.error().Message());
    }
    boost::system::error_code ec;
    pause.expires_after(options_.interval);
    co_await pause.async_wait(redirect_error(use_awaitable, ec));
  }
}

}  // namespace dfs::referral_net
