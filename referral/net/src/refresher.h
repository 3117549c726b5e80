// Keeps the in-memory namespace index current with the store (written by
// dfsutil, remote admin or the follower): every interval it replays the
// store's change log into the index; when the log cannot be replayed (a
// huge import, a replica snapshot, a log trimmed past us) it reads the
// whole namespace on a worker thread and swaps it in, so referrals are
// answered from the old namespace meanwhile (seconds at a million folders).
// The index changes under the serving state's write lock: the readers wait
// for one batch of mutations, or for the swap of a reloaded index.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "dfs/common/asio.h"
#include "dfs/ns/index.h"
#include "dfs/ns/store.h"
#include "metrics.h"
#include "serving_state.h"

namespace dfs::referral_net {

class StoreRefresher {
 public:
  // Called on the io thread after the index changed, with the serial it
  // had before, still under the state's write lock: what it derives from
  // the index (the site table) changes with it, and its log line comes
  // before any referral from the new namespace.
  using OnChange = std::function<void(uint64_t serial_before)>;
  // All references must outlive the refresher; `loader` reads whole
  // namespaces.
  StoreRefresher(boost::asio::io_context& io, const ns::Store& store,
                 ServingState& state, Metrics& metrics,
                 boost::asio::thread_pool& loader,
                 std::chrono::milliseconds interval, OnChange on_change);
  void Start();
  void Stop() { stopping_ = true; }
  // Reads the store's log now rather than at the next interval (something
  // just wrote it: the domain mirror).
  void Poke() { timer_.cancel(); }

 private:
  // Default-constructible, as co_spawn's result must be.
  struct Loaded {
    std::unique_ptr<ns::NamespaceIndex> index;
    std::string error;
  };
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<bool> ReloadOffThread();
  boost::asio::awaitable<Loaded> LoadFresh();

  boost::asio::io_context& io_;
  const ns::Store& store_;
  ServingState& state_;
  Metrics& metrics_;
  boost::asio::thread_pool& loader_;
  std::chrono::milliseconds interval_;
  OnChange on_change_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
