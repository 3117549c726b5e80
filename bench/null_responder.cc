// The framing's limit on this machine, for bench/referral_load.sh: a server
// built as dfsd is (one acceptor handing connections round robin to
// --threads threads, each with its own io_context; default one per core)
// that reads requests with dfsd's framing (referral::Framer) and answers
// each with the same fixed referral response of the usual size, doing no
// lookup at all. dfsd's figures next to these say what the referral work
// costs over the framing and the socket.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dfs/common/asio.h"
#include "dfs/common/cores.h"
#include "dfs/referral/framing.h"
#include "dfs/referral_net/server.h"

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

awaitable<void> Serve(tcp::socket socket, const std::string& reply) {
  socket.set_option(tcp::no_delay(true));
  dfs::referral::Framer framer;
  std::array<char, 16384> buffer;
  std::string out;
  for (;;) {
    boost::system::error_code ec;
    const size_t n = co_await socket.async_read_some(
        asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    auto frames = framer.Feed(std::string_view(buffer.data(), n));
    if (!frames) co_return;
    out.clear();
    for (size_t i = 0; i < frames->size(); ++i) out += reply;
    if (out.empty()) continue;
    co_await asio::async_write(socket, asio::buffer(out),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

awaitable<void> Listen(tcp::acceptor& acceptor,
                       std::vector<std::unique_ptr<asio::io_context>>& workers,
                       const std::string& reply) {
  for (size_t next = 0;; ++next) {
    asio::io_context& worker = *workers[next % workers.size()];
    tcp::socket socket = co_await acceptor.async_accept(worker, use_awaitable);
    asio::co_spawn(worker, Serve(std::move(socket), reply), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  size_t reply_bytes = 180;  // a V4 referral with two targets, as dfsd's
  CLI::App app{"a null responder in dfsd's framing"};
  app.add_option("--listen", listen);
  app.add_option("--reply-bytes", reply_bytes, "payload of the fixed reply");
  size_t threads = dfs::CoresAvailable();
  app.add_option("--threads", threads, "threads answering (one per core)");
  CLI11_PARSE(app, argc, argv);
  auto endpoint = dfs::referral_net::ParseEndpoint(listen);
  if (!endpoint) {
    std::fprintf(stderr, "%s\n", endpoint.error().Message().c_str());
    return 2;
  }
  const std::string reply =
      dfs::referral::EncodeFrame(dfs::referral::FrameType::kReferralResponse,
                                 std::string(reply_bytes, '\x01'));
  asio::io_context io(1);
  tcp::acceptor acceptor(io, *endpoint);
  std::printf("null responder listening on 127.0.0.1:%u\n",
              static_cast<unsigned>(acceptor.local_endpoint().port()));
  std::fflush(stdout);
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<std::thread> threads_running;
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i)
    workers.push_back(std::make_unique<asio::io_context>(1));
  for (auto& worker : workers) {
    threads_running.emplace_back([&worker] {
      auto work = asio::make_work_guard(*worker);
      worker->run();
    });
  }
  asio::co_spawn(io, Listen(acceptor, workers, reply), asio::detached);
  io.run();
}
