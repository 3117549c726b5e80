// Fuzz target: a running mount's control requests (client/FORMAT.md,
// "Control socket"). Only the mount's owner can connect, but a request
// line must never crash the mount. Property: a request that parses
// encodes to a line that parses to the same request.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/client/control.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = dfs::client::ParseControlRequest(bytes);
  if (request) {
    std::string line = dfs::client::EncodeControlRequest(*request);
    line.pop_back();
    auto again = dfs::client::ParseControlRequest(line);
    if (!again || again->command != request->command) std::abort();
    // Invalid UTF-8 in a path is replaced on encoding: only valid paths
    // must come back unchanged.
    if (again->path != request->path &&
        again->path.find("\xEF\xBF\xBD") == std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
