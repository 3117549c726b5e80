#include "dfsrd_poller.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "coroutines.h"
#include "dfs/common/clock.h"
#include "dfs/common/error.h"
#include "dfs/referral_net/server.h"

namespace dfs::referral_net {

DfsrdPoller::DfsrdPoller(asio::io_context& io, std::vector<std::string> members,
                         std::chrono::milliseconds interval,
                         std::chrono::milliseconds timeout)
    : io_(io), interval_(interval), timeout_(timeout) {
  for (std::string& address : members) {
    // Parsed once (dfsd's main checked each already).
    auto endpoint = ParseEndpoint(address);
    endpoints_.push_back(endpoint ? std::optional(*endpoint) : std::nullopt);
    referral::MemberReading r;
    r.address = std::move(address);
    r.error = endpoint ? "not asked yet" : endpoint.error().Message();
    readings_.push_back(std::move(r));
  }
  in_flight_.assign(readings_.size(), false);
}

void DfsrdPoller::Start() {
  if (!readings_.empty()) {
    asio::co_spawn(io_, Loop(), LogErrors("dfsrd status poll loop"));
  }
}

std::string DfsrdPoller::Json() const {
  return referral::ReplicationJson(readings_, UnixMillis());
}

awaitable<void> DfsrdPoller::Loop() {
  asio::steady_timer timer(io_);
  while (!stopping_) {
    for (size_t i = 0; i < readings_.size(); ++i) {
      // One poll per member at a time: a hung member is not asked again
      // until its last poll timed out.
      if (in_flight_[i]) continue;
      in_flight_[i] = true;
      asio::co_spawn(io_, Poll(i), LogErrors("dfsrd status poll"));
    }
    timer.expires_after(interval_);
    boost::system::error_code ec;
    co_await timer.async_wait(redirect_error(use_awaitable, ec));
  }
}

awaitable<void> DfsrdPoller::Poll(size_t i) {
  // (Not a conditional expression: GCC 12 miscompiles co_await inside
  // one.)
  Result<std::string> answer =
      Fail(Errc::kInvalidArgument, readings_[i].address + " is not IP:PORT");
  if (endpoints_[i]) {
    answer = co_await Fetch(*endpoints_[i], readings_[i].address);
  }
  in_flight_[i] = false;
  referral::MemberReading& r = readings_[i];
  Result<referral::MemberStatus> status =
      answer
          ? referral::ParseMemberStatusResponse(*answer)
          : Result<referral::MemberStatus>(Unexpected<Error>(answer.error()));
  const bool was_reachable = r.reachable;
  if (status) {
    r.last = std::move(*status);
    r.last_ok_ms = UnixMillis();
    r.reachable = true;
    r.error.clear();
    if (!was_reachable) {
      spdlog::info("DFS1050 dfsrd member {} of group {} answers at {}",
                   r.last->member, r.last->group, r.address);
    }
    co_return;
  }
  const std::string why = status.error().Message();
  if (was_reachable || r.error != why) {
    spdlog::warn("DFS1051 dfsrd status at {} unavailable: {}", r.address, why);
  }
  r.reachable = false;
  r.error = why;
}

awaitable<Result<std::string>> DfsrdPoller::Fetch(tcp::endpoint endpoint,
                                                  const std::string& address) {
  // Shared with the deadline's handler, which may run after this frame is
  // gone (a handler already queued cannot be recalled by cancel()).
  struct Exchange {
    explicit Exchange(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    bool timed_out = false;
  };
  auto exchange = std::make_shared<Exchange>(io_);
  tcp::socket& socket = exchange->socket;
  // One deadline for the whole exchange: a member that accepts and never
  // answers (SIGSTOP) is closed under the read.
  asio::steady_timer deadline(io_);
  deadline.expires_after(timeout_);
  deadline.async_wait([exchange](const boost::system::error_code& e) {
    if (!e) {
      exchange->timed_out = true;
      boost::system::error_code ignored;
      exchange->socket.close(ignored);
    }
  });
  boost::system::error_code ec;
  co_await socket.async_connect(endpoint, redirect_error(use_awaitable, ec));
  std::string answer;
  if (!ec) {
    const std::string request = "GET /status HTTP/1.1\r\nHost: " + address +
                                "\r\nConnection: close\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(request),
                               redirect_error(use_awaitable, ec));
  }
  if (!ec) {
    std::array<char, 16 * 1024> buffer;
    for (;;) {
      const size_t n = co_await socket.async_read_some(
          asio::buffer(buffer), redirect_error(use_awaitable, ec));
      answer.append(buffer.data(), n);
      if (ec || answer.size() > referral::kMaxMemberStatusBytes) break;
    }
    if (ec == asio::error::eof) ec.clear();
  }
  deadline.cancel();
  if (exchange->timed_out) {
    co_return Fail(
        Errc::kUnavailable,
        "no answer within " + std::to_string(timeout_.count()) + " ms");
  }
  if (ec) co_return Fail(Errc::kIo, ec.message());
  co_return answer;
}

}  // namespace dfs::referral_net
