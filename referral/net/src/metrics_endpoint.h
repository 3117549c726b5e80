// dfsd's Prometheus endpoint (--metrics IP:PORT): GET /metrics answers the
// counters; each request is bounded (kMaxHttpRequestBytes, 5 s), so a slow
// scraper holds one coroutine and nothing else.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "dfs/common/asio.h"
#include "dfs/common/result.h"

namespace dfs::referral_net {

class MetricsEndpoint {
 public:
  // `render` runs on the io thread for every scrape. `route`, when set,
  // answers other requests first (the whole HTTP response), or declines.
  using Route = std::function<std::optional<std::string>(std::string_view)>;
  MetricsEndpoint(boost::asio::io_context& io,
                  std::function<std::string()> render, Route route = nullptr);
  // Whether it listens on a loopback address.
  bool loopback() const;
  Status Listen(const std::string& where);
  bool listening() const { return acceptor_.is_open(); }
  void Start();
  void Stop();
  uint16_t port() const;

 private:
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  static constexpr auto kRequestTimeout = std::chrono::seconds(5);
  boost::asio::io_context& io_;
  std::function<std::string()> render_;
  Route route_;
  boost::asio::ip::tcp::acceptor acceptor_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
