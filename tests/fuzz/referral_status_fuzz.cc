// Fuzz target: a request to dfsd's metrics address, as the status page's
// router reads it (referral/status_page.h), and to dfsrd's (its /status
// route: dfs/common/metrics_http.h). Properties: no crash; an
// answer is a whole HTTP response; only loopback gets the page.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dfs/common/metrics_http.h"
#include "dfs/referral/status_page.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view request(reinterpret_cast<const char*>(data), size);
  const dfs::referral::StatusSources sources{
      [](const dfs::referral::NamespacePage& page) {
        // The query's limits hold whatever the request said.
        if (page.limit < 1 ||
            page.limit > dfs::referral::kMaxStatusPageFolders ||
            page.filter.size() > dfs::referral::kMaxStatusFilterBytes) {
          std::abort();
        }
        return std::string("{}");
      },
      [] { return std::string("{}"); }, [] { return std::string("{}"); },
      [] { return std::string("{}"); }};
  for (bool allowed : {true, false}) {
    auto answer = dfs::referral::StatusHttpResponse(request, sources, allowed);
    if (!answer) continue;
    if (answer->rfind("HTTP/1.1 ", 0) != 0) std::abort();
    if (!allowed && answer->find("403 Forbidden") == std::string::npos) {
      std::abort();
    }
  }
  // dfsrd's metrics address routes GET /status the same way.
  if (dfs::RequestsPath(request, "/status")) {
    // Exactly that path: then the end, the version, the line's end or a
    // query.
    if (!request.starts_with("GET /status")) std::abort();
    const std::string_view after = request.substr(11);
    if (!after.empty() && after[0] != ' ' && after[0] != '?' &&
        after[0] != '\r' && after[0] != '\n') {
      std::abort();
    }
  }
  return 0;
}
