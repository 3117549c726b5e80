#include "refresher.h"

#include <spdlog/spdlog.h>

#include "coroutines.h"
#include "dfs/common/error.h"

namespace dfs::referral_net {

StoreRefresher::StoreRefresher(asio::io_context& io, const ns::Store& store,
                               ServingState& state, Metrics& metrics,
                               asio::thread_pool& loader,
                               std::chrono::milliseconds interval,
                               OnChange on_change)
    : io_(io),
      store_(store),
      state_(state),
      metrics_(metrics),
      loader_(loader),
      interval_(interval),
      on_change_(std::move(on_change)),
      timer_(io) {}

void StoreRefresher::Start() {
  asio::co_spawn(io_, Loop(), LogErrors("refresh loop"));
}

awaitable<void> StoreRefresher::Loop() {
  while (!stopping_) {
    timer_.expires_after(interval_);
    boost::system::error_code ec;
    co_await timer_.async_wait(redirect_error(use_awaitable, ec));
    // This thread is the index's only writer: it reads it without the
    // lock, and takes the lock only when the store has something new.
    const uint64_t before = state_.index.Serial();
    auto serial = store_.Serial();
    if (serial && *serial == before) continue;
    auto writing = state_.Write();
    auto changed = store_.CatchUp(state_.index, /*allow_reload=*/false);
    if (changed && *changed) on_change_(before);
    writing.unlock();
    if (!changed &&
        changed.error().code == make_error_code(Errc::kNeedResync)) {
      if (co_await ReloadOffThread()) ++metrics_.reloads;
      continue;
    }
    if (!changed) {
      ++metrics_.refresh_errors;
      spdlog::error("DFS1005 reading the store failed: {}",
                    changed.error().Message());
    }
  }
}

awaitable<bool> StoreRefresher::ReloadOffThread() {
  Loaded fresh = co_await asio::co_spawn(loader_, LoadFresh(), use_awaitable);
  if (!fresh.index) {
    ++metrics_.refresh_errors;
    spdlog::error("DFS1005 reloading the namespace failed: {}", fresh.error);
    co_return false;
  }
  const uint64_t before = state_.index.Serial();
  auto writing = state_.Write();
  state_.index = std::move(*fresh.index);
  on_change_(before);
  co_return true;
}

awaitable<StoreRefresher::Loaded> StoreRefresher::LoadFresh() {
  Loaded out;
  auto fresh = std::make_unique<ns::NamespaceIndex>();
  Status loaded = store_.LoadInto(*fresh);
  if (loaded.ok()) {
    out.index = std::move(fresh);
  } else {
    out.error = loaded.error().Message();
  }
  co_return out;
}

}  // namespace dfs::referral_net
