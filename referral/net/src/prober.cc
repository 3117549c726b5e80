#include "prober.h"

#include <spdlog/spdlog.h>

#include <array>
#include <memory>

#include "coroutines.h"
#include "dfs/ns/path.h"

namespace dfs::referral_net {

Prober::Prober(asio::io_context& io, ProbeOptions options, ServingState& state,
               Metrics& metrics,
               std::function<std::vector<std::string>()> servers)
    : io_(io),
      options_(std::move(options)),
      state_(state),
      metrics_(metrics),
      servers_(std::move(servers)) {}

void Prober::Start() {
  if (options_.enabled) asio::co_spawn(io_, Loop(), LogErrors("probe loop"));
}

awaitable<void> Prober::Loop() {
  asio::steady_timer timer(io_);
  while (!stopping_) {
    for (std::string& server : servers_()) {
      asio::co_spawn(io_, Probe(std::move(server)), LogErrors("probe"));
    }
    timer.expires_after(options_.interval);
    boost::system::error_code ec;
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
  }
}

awaitable<std::optional<std::vector<tcp::endpoint>>> Prober::EndpointsOf(
    const std::string& server) {
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  const std::string key = ns::FoldCase(server);
  auto mapped = options_.address_of.find(key);
  if (mapped != options_.address_of.end()) {
    if (auto ep = ParseEndpoint(mapped->second)) endpoints.push_back(*ep);
  } else if (auto address = asio::ip::make_address(server, ec); !ec) {
    endpoints.emplace_back(address, options_.default_port);
  } else if (options_.resolve_names) {
    // A name: ask the system resolver, as any client of that server would.
    tcp::resolver resolver(io_);
    auto results = co_await resolver.async_resolve(
        server, std::to_string(options_.default_port),
        redirect_error(use_awaitable, ec));
    if (!ec) {
      for (const auto& r : results) endpoints.push_back(r.endpoint());
    }
  } else {
    if (unprobed_.insert(key).second) {
      spdlog::info(
          "DFS1008 not probing {}: no address (give --probe {}=IP:PORT, or "
          "--probe-dns)",
          server, server);
    }
    co_return std::nullopt;
  }
  // Empty when a name did not resolve: then the server counts as down.
  co_return endpoints;
}

awaitable<bool> Prober::Check(tcp::socket& socket, const std::string& server) {
  if (options_.check == referral::ProbeCheck::kConnect) co_return true;
  boost::system::error_code ec;
  const std::string request = referral::ProbeRequest(options_.check, server);
  co_await asio::async_write(socket, asio::buffer(request),
                             redirect_error(use_awaitable, ec));
  std::string answer;
  std::array<char, referral::kMaxProbeAnswerBytes> buffer;
  while (!ec) {
    const size_t room = referral::kMaxProbeAnswerBytes - answer.size();
    const size_t n = co_await socket.async_read_some(
        asio::buffer(buffer.data(), room), redirect_error(use_awaitable, ec));
    answer.append(buffer.data(), n);
    switch (referral::JudgeProbeAnswer(options_.check, answer)) {
      case referral::ProbeVerdict::kServing:
        co_return true;
      case referral::ProbeVerdict::kNotServing:
        co_return false;
      case referral::ProbeVerdict::kNeedMore:
        break;
    }
  }
  co_return false;  // closed, or the deadline closed it, before an answer
}

awaitable<void> Prober::Probe(std::string server) {
  const auto endpoints = co_await EndpointsOf(server);
  if (!endpoints) co_return;  // not probed: counts as up
  bool up = false;
  for (const auto& ep : *endpoints) {
    // Shared with the deadline's handler: a handler already queued when
    // the probe ends runs after this frame is gone (cancel() cannot
    // recall it), and must find the socket still there.
    auto socket = std::make_shared<tcp::socket>(io_);
    asio::steady_timer timeout(io_);
    // One deadline for the connect and the check's exchange: a server
    // that accepts and never answers is closed under the read.
    timeout.expires_after(options_.timeout);
    timeout.async_wait([socket](const boost::system::error_code& e) {
      if (!e) {
        boost::system::error_code ignored;
        socket->close(ignored);
      }
    });
    boost::system::error_code ec;
    co_await socket->async_connect(ep, redirect_error(use_awaitable, ec));
    if (!ec && socket->is_open()) {
      up = co_await Check(*socket, server);
    }
    timeout.cancel();
    if (up) break;
  }
  ++(up ? metrics_.probes_up : metrics_.probes_down);
  referral::HealthChange change;
  {
    auto writing = state_.Write();
    change = state_.health.Record(server, up);
  }
  switch (change) {
    case referral::HealthChange::kCameUp:
      spdlog::info("DFS1002 target server up: {}", server);
      break;
    case referral::HealthChange::kWentDown:
      spdlog::warn("DFS1001 target server down: {}", server);
      break;
    case referral::HealthChange::kNone:
      break;
  }
  metrics_.servers_down = state_.health.DownCount();
  if (change != referral::HealthChange::kNone && changed_) changed_();
}

}  // namespace dfs::referral_net
