#include "metrics_endpoint.h"

#include <array>
#include <memory>

#include "coroutines.h"
#include "dfs/common/metrics_http.h"
#include "listener.h"

namespace dfs::referral_net {

MetricsEndpoint::MetricsEndpoint(asio::io_context& io,
                                 std::function<std::string()> render,
                                 Route route)
    : io_(io),
      render_(std::move(render)),
      route_(std::move(route)),
      acceptor_(io) {}

bool MetricsEndpoint::loopback() const {
  boost::system::error_code ec;
  auto ep = acceptor_.local_endpoint(ec);
  return !ec && ep.address().is_loopback();
}

Status MetricsEndpoint::Listen(const std::string& where) {
  return referral_net::Listen(acceptor_, where);
}

void MetricsEndpoint::Start() {
  asio::co_spawn(io_, AcceptLoop(), LogErrors("metrics loop"));
}

void MetricsEndpoint::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

uint16_t MetricsEndpoint::port() const { return PortOf(acceptor_); }

awaitable<void> MetricsEndpoint::AcceptLoop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_) co_return;
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket)), LogErrors("metrics"));
  }
}

awaitable<void> MetricsEndpoint::Serve(tcp::socket accepted) {
  std::string request;
  std::array<char, 1024> buffer;
  boost::system::error_code ec;
  // Shared with the deadline's handler, which may run after this frame is
  // gone (a handler already queued cannot be recalled by cancel()).
  auto shared = std::make_shared<tcp::socket>(std::move(accepted));
  tcp::socket& socket = *shared;
  asio::steady_timer timeout(io_);
  timeout.expires_after(kRequestTimeout);
  timeout.async_wait([shared](const boost::system::error_code& e) {
    if (!e) {
      boost::system::error_code ignored;
      shared->close(ignored);
    }
  });
  while (!HttpRequestReady(request)) {
    const size_t n = co_await socket.async_read_some(
        asio::buffer(buffer), redirect_error(use_awaitable, ec));
    if (ec) co_return;
    request.append(buffer.data(), n);
  }
  timeout.cancel();
  std::optional<std::string> routed;
  if (route_) routed = route_(request);
  const std::string response =
      routed ? std::move(*routed)
             : MetricsHttpResponse(
                   request, WantsMetrics(request) ? render_() : std::string());
  co_await asio::async_write(socket, asio::buffer(response),
                             redirect_error(use_awaitable, ec));
  socket.close(ec);
}

}  // namespace dfs::referral_net
