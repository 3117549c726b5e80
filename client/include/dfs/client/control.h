// The control protocol of a running `dfsclient mount`: `dfsclient pktinfo`,
// `pktflush` and `fail` reach the mount's own cache through a Unix socket
// beside the cache file (client/FORMAT.md, "Control socket"). One request
// line of JSON in, one reply line of JSON out. Pure: no sockets here.
// Thread-safety: functions only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "dfs/common/error.h"
#include "dfs/common/result.h"

namespace dfs::client {

// A request is one line; anything longer is refused unread.
inline constexpr size_t kMaxControlRequestBytes = 64 * 1024;
// A reply carries the whole cache (max_cache_entries up to 1,000,000).
inline constexpr size_t kMaxControlReplyBytes = size_t{256} << 20;
// The longest DFS path a request may name (FORMAT.md's path limit, in
// bytes of UTF-8: at most 3 bytes per UTF-16 unit).
inline constexpr size_t kMaxControlPathBytes = 4096 * 3;

enum class ControlCommand { kPktInfo, kPktFlush, kFail };

struct ControlRequest {
  ControlCommand command = ControlCommand::kPktInfo;
  std::string path;  // kFail only: the DFS path whose target failed
};

// `{"command":"pktinfo"|"pktflush"|"fail","path":"..."}`. Errors:
// kInvalidArgument (not that), kLimitExceeded (too long).
Result<ControlRequest> ParseControlRequest(std::string_view line);
// The request line, newline included.
std::string EncodeControlRequest(const ControlRequest& request);

}  // namespace dfs::client
