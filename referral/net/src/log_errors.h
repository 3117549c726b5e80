// The completion handler every dfsd coroutine is spawned with: it logs the
// coroutine's escaping exception instead of dropping it (STYLE.md: never
// asio::detached).
#pragma once

#include <spdlog/spdlog.h>

#include <exception>

namespace dfs::referral_net {

inline auto LogErrors(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("DFS1099 {} failed: {}", what, ex.what());
    }
  };
}

}  // namespace dfs::referral_net
