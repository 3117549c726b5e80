// What every Asio shell that defines coroutines shares: the names it uses
// for them, and LogErrors, the completion handler every coroutine is
// spawned with (it logs the coroutine's escaping exception instead of
// dropping it; STYLE.md: never asio::detached). A shell brings the names
// in with `using namespace dfs::coroutines;` inside its own namespace.
//
// g++ 12 reports -Wmismatched-new-delete on coroutine frames that use a
// class-specific operator new/delete pair, as Asio's awaitable does (GCC
// bug 109224, fixed in 13): a false positive, silenced here.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <spdlog/spdlog.h>

#include <exception>

#include "dfs/common/asio.h"

namespace dfs::coroutines {

namespace asio = boost::asio;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;

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

}  // namespace dfs::coroutines
