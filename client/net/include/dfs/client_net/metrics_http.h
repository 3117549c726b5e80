// A minimal HTTP endpoint for Prometheus: `GET /metrics` answers the text
// `render()` returns; a route (dfsrd's /status) may answer other paths;
// anything else gets 404. One connection at a time on
// its own thread, each bounded (8 KiB of request, 2 s per read and
// write), so a slow scraper delays only the next scrape.
// Thread-safety: `render` is called on the server's thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs::client_net {

class MetricsHttpServer {
 public:
  // Listens on `address` (IP:PORT; port 0 picks one). Errors:
  // kInvalidArgument (bad address), kIo.
  // `route`, when set, answers other requests first (the whole HTTP
  // response, see dfs/common/metrics_http.h), or declines (nothing).
  using Route = std::function<std::optional<std::string>(std::string_view)>;
  static Result<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::function<std::string()> render,
      Route route = nullptr);
  ~MetricsHttpServer();
  // The IP:PORT it listens on.
  const std::string& address() const;

  class Impl;

 private:
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfs::client_net
