// One client connection of dfsd, whatever carries its bytes and whatever
// clock its deadlines follow.
//
// Bytes go through a Framer (at most one frame buffered); a frame an
// authenticated session claims goes to the session (remote admin,
// replication) and the typed requests it passes on to the host's Run;
// every other frame is a referral request, answered by the host's Answer.
// Each request is answered before the next is read (no unbounded write
// queue). The connection ends when the peer leaves, idles past its
// deadline (only whole frames buy time: referral::IdleDeadline), sends a
// malformed frame or a frame whose MAC does not match, or does not read a
// snapshot within the snapshot write deadline. A wrong key costs its
// connection kWrongKeyDelay before the answer.
//
// A template over the stream (dfsd: a TCP socket; tests: one end of a
// local socket pair) and the timer (dfsd: asio::steady_timer; tests: a
// timer on a manual clock, so deadlines are tested by moving the clock,
// not by waiting). The timer's clock must measure steady_clock time points
// (the pure rules' type).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "coroutines.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/limits.h"
#include "dfs/referral/resolver.h"
#include "dfs/referral/session.h"
#include "metrics.h"

namespace dfs::referral_net {

// One of the few snapshots a server sends at once, held until its reply
// is written (or the connection ends).
class SnapshotSlot {
 public:
  // A slot counted in `in_flight` when fewer than `max` are taken.
  static std::optional<SnapshotSlot> TryTake(std::atomic<size_t>& in_flight,
                                             size_t max) {
    size_t taken = in_flight.load();
    do {
      if (taken >= max) return std::nullopt;
    } while (!in_flight.compare_exchange_weak(taken, taken + 1));
    return SnapshotSlot(in_flight);
  }
  SnapshotSlot(SnapshotSlot&& other) noexcept
      : in_flight_(std::exchange(other.in_flight_, nullptr)) {}
  SnapshotSlot& operator=(SnapshotSlot&& other) noexcept {
    std::swap(in_flight_, other.in_flight_);
    return *this;
  }
  ~SnapshotSlot() {
    if (in_flight_) --*in_flight_;
  }

 private:
  explicit SnapshotSlot(std::atomic<size_t>& in_flight)
      : in_flight_(&in_flight) {}
  std::atomic<size_t>* in_flight_;
};

// The reply to one frame. One holding a snapshot slot is written under the
// snapshot write deadline: a peer that does not read it is cut off, and
// its memory and slot come back.
struct Reply {
  std::string bytes;
  std::optional<SnapshotSlot> snapshot_slot;
};

// What a connection asks of the server it belongs to. Called on the
// connection's executor.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  // The reply frame to a frame no session claims (a referral request).
  virtual std::string Answer(const referral::Frame& frame,
                             const referral::Requester& client) = 0;
  // Runs a request an authenticated session passed on; the reply sealed.
  virtual boost::asio::awaitable<Reply> Run(
      const referral::SessionRequest& request, referral::ServerSession& session,
      const std::string& peer) = 0;
};

struct ConnectionSettings {
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds snapshot_write_timeout{10000};
  // Must outlive the connection.
  const referral::SessionKeys* keys = nullptr;
  referral::AuthThrottle* throttle = nullptr;
};

template <class Stream, class Timer>
class Connection
    : public std::enable_shared_from_this<Connection<Stream, Timer>> {
  using Clock = typename Timer::clock_type;
  static_assert(std::is_same_v<typename Clock::time_point,
                               std::chrono::steady_clock::time_point>,
                "deadlines are steady_clock time points");

 public:
  // `host` and `counters` must outlive the connection; `peer` names the
  // client in logs and for the authentication throttle.
  Connection(Stream stream, referral::Requester client, std::string peer,
             ConnectionHost& host, ConnectionSettings settings,
             WorkerCounters& counters)
      : stream_(std::move(stream)),
        client_(std::move(client)),
        peer_(std::move(peer)),
        host_(host),
        settings_(settings),
        counters_(counters),
        idle_(settings.idle_timeout, Clock::now()),
        watchdog_timer_(stream_.get_executor()) {}

  // Serves the connection until it ends; the stream is closed then.
  boost::asio::awaitable<void> Serve() {
    auto self = this->shared_from_this();
    asio::co_spawn(stream_.get_executor(), Watchdog(self),
                   LogErrors("watchdog"));
    referral::Framer framer;
    referral::ServerSession session(*settings_.keys, *settings_.throttle,
                                    peer_);
    std::array<char, 4096> buffer;
    boost::system::error_code ec;
    for (;;) {
      const size_t n = co_await stream_.async_read_some(
          asio::buffer(buffer), redirect_error(use_awaitable, ec));
      if (ec) break;
      auto frames = framer.Feed(std::string_view(buffer.data(), n));
      if (!frames) {
        counters_.malformed_frames.Add();
        spdlog::warn("DFS1007 closing a connection: {}",
                     frames.error().Message());
        break;
      }
      idle_.OnRead(frames->size(), Clock::now());
      bool drop = false;
      for (const auto& frame : *frames) {
        Reply reply;
        if (session.Claims(frame)) {
          referral::SessionStep step = session.OnFrame(frame, Clock::now());
          if (!(co_await AfterStep(step))) {
            drop = true;
            break;
          }
          if (step.max_payload) framer.set_max_payload(*step.max_payload);
          if (step.request) {
            // A named request, not a temporary: g++ 12 destroys
            // temporaries inside a co_await expression twice.
            const referral::SessionRequest request = std::move(*step.request);
            reply = co_await host_.Run(request, session, peer_);
          } else {
            reply.bytes = std::move(step.reply);
          }
        } else {
          reply.bytes = host_.Answer(frame, client_);
        }
        co_await Send(reply, ec);
        if (ec) break;
      }
      if (ec || drop) break;
    }
    stream_.close(ec);
    watchdog_timer_.cancel();  // so the watchdog lets go at once
  }

 private:
  boost::asio::awaitable<void> Send(Reply& reply,
                                    boost::system::error_code& ec) {
    if (!reply.snapshot_slot) {
      co_await asio::async_write(stream_, asio::buffer(reply.bytes),
                                 redirect_error(use_awaitable, ec));
      co_return;
    }
    Timer write_deadline(stream_.get_executor(),
                         settings_.snapshot_write_timeout);
    // Whether the write still waits: a deadline handler already queued
    // when it ended (cancel() cannot recall it) may run after this
    // connection is gone, and must then touch nothing of it.
    auto waiting = std::make_shared<bool>(true);
    write_deadline.async_wait(
        [this, waiting](const boost::system::error_code& e) {
          boost::system::error_code ignored;
          if (!e && *waiting) stream_.close(ignored);
        });
    co_await asio::async_write(stream_, asio::buffer(reply.bytes),
                               redirect_error(use_awaitable, ec));
    *waiting = false;
    write_deadline.cancel();
    reply.snapshot_slot.reset();
  }

  // Logs and counts what a session step did; false: drop the connection.
  boost::asio::awaitable<bool> AfterStep(const referral::SessionStep& step) {
    using referral::SessionEvent;
    switch (step.event) {
      case SessionEvent::kBadMac:
        counters_.malformed_frames.Add();
        spdlog::warn(
            "DFS1007 closing an authenticated connection from {}: a frame "
            "whose MAC does not match",
            peer_);
        co_return false;
      case SessionEvent::kWrongKey:
      case SessionEvent::kThrottled:
      case SessionEvent::kUnauthenticated:
        if (step.log_refusals) {
          spdlog::warn(
              "DFS1020 session refused: {} from {} ({} refusals since the "
              "last such line)",
              step.event == SessionEvent::kWrongKey    ? "wrong key"
              : step.event == SessionEvent::kThrottled ? "too many wrong keys"
                                                       : "not authenticated",
              peer_, *step.log_refusals);
        }
        if (step.event == SessionEvent::kWrongKey) {
          // Every wrong key costs its connection a pause: guessing is slow
          // even before the throttle refuses the address.
          Timer pause(stream_.get_executor(), referral::kWrongKeyDelay);
          boost::system::error_code ignored;
          co_await pause.async_wait(redirect_error(use_awaitable, ignored));
        }
        break;
      default:
        break;
    }
    co_return !step.close;
  }

  // Closes the stream once the idle deadline passes without a whole frame.
  // Holds the connection alive until then (or until the stream closes).
  // (A coroutine keeps its parameters: the unnamed one is that hold.)
  boost::asio::awaitable<void> Watchdog(std::shared_ptr<Connection>) {
    while (stream_.is_open()) {
      watchdog_timer_.expires_at(idle_.deadline());
      boost::system::error_code ec;
      co_await watchdog_timer_.async_wait(redirect_error(use_awaitable, ec));
      if (stream_.is_open() && idle_.Expired(Clock::now())) {
        counters_.idle_closed.Add();
        stream_.close(ec);
      }
    }
  }

  Stream stream_;
  const referral::Requester client_;
  const std::string peer_;
  ConnectionHost& host_;
  const ConnectionSettings settings_;
  WorkerCounters& counters_;
  referral::IdleDeadline idle_;
  Timer watchdog_timer_;
};

}  // namespace dfs::referral_net
