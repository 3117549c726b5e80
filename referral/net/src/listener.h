// dfsd's listening socket: accepts with back-off when the process runs out
// of descriptors (the kernel keeps the connection queued; retrying at once
// would spin a core), holds every connection to the limits (all open, per
// client address) and logs refusals at most once per interval, with
// counts. Each accepted connection comes with its ConnectionSlot, which
// gives its place back when the connection's coroutine ends (on whichever
// thread serves it).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "dfs/common/asio.h"
#include "dfs/common/result.h"
#include "dfs/referral/limits.h"
#include "metrics.h"

namespace dfs::referral_net {

// Opens, binds and listens `acceptor` on `where` (IP:PORT). Errors:
// kInvalidArgument (not IP:PORT), kIo.
Status Listen(boost::asio::ip::tcp::acceptor& acceptor,
              const std::string& where);
// "IP:PORT" of a listening acceptor; its port (0 when it is not open).
std::string Describe(const boost::asio::ip::tcp::acceptor& acceptor);
uint16_t PortOf(const boost::asio::ip::tcp::acceptor& acceptor);

class Listener {
  struct Counts;

 public:
  // A connection's place under the limits; movable, given back on
  // destruction (whatever ends the connection).
  class ConnectionSlot {
   public:
    ConnectionSlot(std::shared_ptr<Counts> counts, std::string address);
    ConnectionSlot(ConnectionSlot&&) = default;
    ConnectionSlot& operator=(ConnectionSlot&&) = delete;
    ~ConnectionSlot();
    const std::string& address() const { return address_; }

   private:
    std::shared_ptr<Counts> counts_;
    std::string address_;
  };
  using OnConnection =
      std::function<void(boost::asio::ip::tcp::socket, ConnectionSlot)>;
  // The io_context the next connection is served on (its socket is made
  // there); called on the listener's thread.
  using PickContext = std::function<boost::asio::io_context&()>;

  // `metrics` must outlive the listener (connection counters).
  Listener(boost::asio::io_context& io, Metrics& metrics);
  Status Listen(const std::string& where, referral::ConnectionLimits limits);
  void Start(PickContext pick_context, OnConnection on_connection);
  void Stop();
  uint16_t port() const { return PortOf(acceptor_); }
  std::string address() const { return Describe(acceptor_); }

 private:
  boost::asio::awaitable<void> AcceptLoop(PickContext pick_context,
                                          OnConnection on_connection);
  void NoteRefusal(referral::Refusal why);

  static constexpr auto kMinAcceptBackoff = std::chrono::milliseconds(10);
  static constexpr auto kMaxAcceptBackoff = std::chrono::milliseconds(1000);

  boost::asio::io_context& io_;
  Metrics& metrics_;
  boost::asio::ip::tcp::acceptor acceptor_;
  referral::ConnectionLimits limits_;
  std::shared_ptr<Counts> counts_;
  referral::RefusalLog refusal_log_;
  bool stopping_ = false;
};

}  // namespace dfs::referral_net
