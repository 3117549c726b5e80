// Our own load generator for dfsd: N connections on 127.0.0.1, each
// sending one referral request, waiting for the answer, and sending the
// next, for a bounded time and count. Prints requests/s and latency
// percentiles measured at the client (round trip through the kernel).
//
//   referral_load --server 127.0.0.1:7445 --connections 50 --seconds 10
//                 --folders 100000 [--max-requests 20000000]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "dfs/common/asio.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "dfs/referral_net/server.h"

namespace asio = boost::asio;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

struct Shared {
  SteadyClock::time_point end;
  uint64_t max_requests = 0;
  // served: referral answers; error_replies: answers of another kind (not
  // served, not timed); workers_failed: connections that ended early.
  uint64_t sent = 0, served = 0, error_replies = 0, workers_failed = 0;
  std::string first_failure;
  std::vector<uint32_t> latencies_ns;
  void WorkerFailed(const std::string& why) {
    ++workers_failed;
    if (first_failure.empty()) first_failure = why;
  }
};

awaitable<void> Worker(tcp::endpoint server, std::vector<std::string> frames,
                       Shared& shared) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  boost::system::error_code ec;
  co_await socket.async_connect(server, redirect_error(use_awaitable, ec));
  if (ec) {
    shared.WorkerFailed("connect: " + ec.message());
    co_return;
  }
  socket.set_option(tcp::no_delay(true));
  std::array<char, 5> header;
  std::string payload;
  size_t i = 0;
  while (SteadyClock::now() < shared.end && shared.sent < shared.max_requests) {
    const std::string& frame = frames[i++ % frames.size()];
    const auto start = SteadyClock::now();
    co_await asio::async_write(socket, asio::buffer(frame),
                               redirect_error(use_awaitable, ec));
    if (!ec)
      co_await asio::async_read(socket, asio::buffer(header),
                                redirect_error(use_awaitable, ec));
    if (ec) {
      shared.WorkerFailed("request: " + ec.message());
      co_return;
    }
    const auto* h = reinterpret_cast<const uint8_t*>(header.data());
    const uint32_t n = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) |
                       (uint32_t{h[2]} << 8) | h[3];
    payload.resize(n);
    co_await asio::async_read(socket, asio::buffer(payload),
                              redirect_error(use_awaitable, ec));
    if (ec) {
      shared.WorkerFailed("reply: " + ec.message());
      co_return;
    }
    ++shared.sent;
    if (h[4] !=
        static_cast<uint8_t>(dfs::referral::FrameType::kReferralResponse)) {
      ++shared.error_replies;  // answered, but not a referral: not served
      continue;
    }
    ++shared.served;
    shared.latencies_ns.push_back(static_cast<uint32_t>(
        std::min<int64_t>((SteadyClock::now() - start).count(), UINT32_MAX)));
  }
}

int main(int argc, char** argv) {
  std::string server = "127.0.0.1:7445";
  std::string label = "dfsd";
  int connections = 50;
  double seconds = 10;
  uint64_t folders = 100000, max_requests = 20000000;
  CLI::App app{"load generator for dfsd"};
  app.add_option("--server", server);
  app.add_option("--connections", connections)->check(CLI::Range(1, 1000));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.1, 120.0));
  app.add_option("--folders", folders,
                 "paths are spread over Site0..Site<N-1>");
  app.add_option("--max-requests", max_requests);
  app.add_option("--label", label, "what the figures are of (dfsd, null)");
  CLI11_PARSE(app, argc, argv);

  auto endpoint = dfs::referral_net::ParseEndpoint(server);
  if (!endpoint) {
    std::fprintf(stderr, "%s\n", endpoint.error().Message().c_str());
    return 2;
  }
  // The same path naming as bench/make_namespace_xml.sh.
  std::mt19937_64 rng(42);
  std::vector<std::string> frames;
  for (int i = 0; i < 4096; ++i) {
    const uint64_t k = rng() % folders;
    const std::string folder = k % 10 == 0 ? "Shops\\Shop" + std::to_string(k)
                                           : "Site" + std::to_string(k);
    frames.push_back(dfs::referral::EncodeFrame(
        dfs::referral::FrameType::kReferralRequest,
        dfs::referral::EncodeRequest(
            {4, "\\contoso\\webfarm\\" + folder + "\\index.html"})));
  }
  asio::io_context io(1);
  Shared shared;
  shared.max_requests = max_requests;
  shared.latencies_ns.reserve(std::min<uint64_t>(max_requests, 50000000));
  const auto start = SteadyClock::now();
  shared.end = start + std::chrono::duration_cast<SteadyClock::duration>(
                           std::chrono::duration<double>(seconds));
  for (int c = 0; c < connections; ++c) {
    asio::co_spawn(io, Worker(*endpoint, frames, shared),
                   [](std::exception_ptr) {});
  }
  io.run();
  const double elapsed =
      std::chrono::duration<double>(SteadyClock::now() - start).count();
  auto& l = shared.latencies_ns;
  if (l.empty()) {
    std::fprintf(stderr,
                 "%s: no referral served (%llu error replies, %d of %d "
                 "connections failed%s%s)\n",
                 label.c_str(), (unsigned long long)shared.error_replies,
                 (int)shared.workers_failed, connections,
                 shared.first_failure.empty() ? "" : ": ",
                 shared.first_failure.c_str());
    return 1;
  }
  std::sort(l.begin(), l.end());
  auto pct = [&](double p) {
    return l[std::min(l.size() - 1, static_cast<size_t>(p * l.size()))] /
           1000.0;
  };
  std::printf(
      "%s: %llu referrals served in %.1f s over %d connections: %.0f "
      "served/s, p50 %.0f us, p99 %.0f us, p99.9 %.0f us; error replies "
      "%llu, connections failed %llu%s%s\n",
      label.c_str(), (unsigned long long)shared.served, elapsed, connections,
      shared.served / elapsed, pct(0.50), pct(0.99), pct(0.999),
      (unsigned long long)shared.error_replies,
      (unsigned long long)shared.workers_failed,
      shared.first_failure.empty() ? "" : ": ", shared.first_failure.c_str());
  return shared.error_replies == 0 && shared.workers_failed == 0 ? 0 : 1;
}
