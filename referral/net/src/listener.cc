#include "listener.h"

#include <spdlog/spdlog.h>

#include <mutex>

#include "coroutines.h"
#include "dfs/common/error.h"
#include "dfs/referral_net/peer_link.h"
#include "dfs/referral_net/server.h"

namespace dfs::referral_net {

Status Listen(tcp::acceptor& acceptor, const std::string& where) {
  DFS_ASSIGN_OR_RETURN(tcp::endpoint ep, ParseEndpoint(where));
  boost::system::error_code ec;
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(Errc::kIo, "cannot listen on " + where + ": " + ec.message());
  }
  return Status::Ok();
}

std::string Describe(const tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  auto ep = acceptor.local_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

uint16_t PortOf(const tcp::acceptor& acceptor) {
  boost::system::error_code ec;
  auto ep = acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

// Shared with the slots: a connection's coroutine may outlive the listener
// at shutdown. Slots are taken on the io thread and given back on the
// worker thread that served the connection, hence the lock (held for a map
// update, once per connection).
struct Listener::Counts {
  Metrics* metrics;
  std::mutex mutex;
  std::map<std::string, size_t> by_address;

  size_t From(const std::string& address) {
    std::lock_guard lock(mutex);
    auto it = by_address.find(address);
    return it == by_address.end() ? 0 : it->second;
  }
};

Listener::ConnectionSlot::ConnectionSlot(std::shared_ptr<Counts> counts,
                                         std::string address)
    : counts_(std::move(counts)), address_(std::move(address)) {
  {
    std::lock_guard lock(counts_->mutex);
    ++counts_->by_address[address_];
  }
  ++counts_->metrics->connections_open;
  ++counts_->metrics->connections_total;
}

Listener::ConnectionSlot::~ConnectionSlot() {
  if (!counts_) return;  // moved from
  {
    std::lock_guard lock(counts_->mutex);
    auto it = counts_->by_address.find(address_);
    if (it != counts_->by_address.end() && --it->second == 0) {
      counts_->by_address.erase(it);
    }
  }
  --counts_->metrics->connections_open;
}

Listener::Listener(asio::io_context& io, Metrics& metrics)
    : io_(io), metrics_(metrics), acceptor_(io), counts_([&metrics] {
        auto counts = std::make_shared<Counts>();
        counts->metrics = &metrics;
        return counts;
      }()) {}

Status Listener::Listen(const std::string& where,
                        referral::ConnectionLimits limits) {
  limits_ = limits;
  return referral_net::Listen(acceptor_, where);
}

void Listener::Start(PickContext pick_context, OnConnection on_connection) {
  asio::co_spawn(io_,
                 AcceptLoop(std::move(pick_context), std::move(on_connection)),
                 LogErrors("accept loop"));
}

void Listener::Stop() {
  stopping_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

// One log line per kRefusalLogInterval at most, with counts: a flood of
// connections cannot become a flood of log lines.
void Listener::NoteRefusal(referral::Refusal why) {
  ++metrics_.connections_rejected;
  auto counts = refusal_log_.Note(why, std::chrono::steady_clock::now());
  if (!counts) return;
  spdlog::warn(
      "DFS1006 connections refused since the last such line: {} at the "
      "limit of {} open, {} over {} from one address, {} out of "
      "descriptors",
      (*counts)[0], limits_.total, (*counts)[1], limits_.per_address,
      (*counts)[2]);
}

awaitable<void> Listener::AcceptLoop(PickContext pick_context,
                                     OnConnection on_connection) {
  Backoff backoff(kMinAcceptBackoff, kMaxAcceptBackoff);
  while (!stopping_) {
    boost::system::error_code ec;
    // The connection's socket belongs to the context that will serve it.
    tcp::socket socket = co_await acceptor_.async_accept(
        pick_context(), redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_) co_return;
      if (ec == asio::error::no_descriptors ||
          ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
          ec.value() == ENFILE) {
        // The kernel keeps the connection queued; retrying at once would
        // spin a core. Wait, longer each time, until one gets through.
        NoteRefusal(referral::Refusal::kDescriptors);
        asio::steady_timer pause(io_, backoff.Next());
        co_await pause.async_wait(redirect_error(use_awaitable, ec));
      }
      continue;
    }
    backoff.Reset();
    auto remote = socket.remote_endpoint(ec);
    std::string address = ec ? "?" : remote.address().to_string();
    if (auto refused = referral::Admit(limits_, metrics_.connections_open,
                                       counts_->From(address))) {
      NoteRefusal(*refused);
      socket.close(ec);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    on_connection(std::move(socket),
                  ConnectionSlot(counts_, std::move(address)));
  }
}

}  // namespace dfs::referral_net
