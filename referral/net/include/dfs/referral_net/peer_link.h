// A client's authenticated link to a peer dfs server, for server-to-server
// traffic (a replica following its primary; dfsrd's members next): connect
// within a deadline, prove the shared key both ways (the peer first: a peer
// without the key is told nothing), then framed exchanges in which every
// frame carries a MAC and every exchange has a deadline
// (referral/FORMAT.md, "Authenticated sessions"). Any failure closes the
// link; the caller reconnects, pacing itself with a Backoff.
// Thread-safety: one link belongs to one coroutine at a time, on one
// executor.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "dfs/common/asio.h"
#include "dfs/common/backoff.h"
#include "dfs/common/result.h"
#include "dfs/referral/framing.h"
#include "dfs/referral_net/auth.h"

namespace dfs::referral_net {

class PeerLink {
 public:
  // `key` and the purpose decide which session is proved; frames up to
  // `max_frame_bytes` are accepted from the peer.
  PeerLink(boost::asio::any_io_executor executor,
           boost::asio::ip::tcp::endpoint peer, std::string key,
           referral::SessionPurpose purpose, std::chrono::milliseconds timeout,
           size_t max_frame_bytes);

  // Connects and runs the handshake. Errors: kIo (cannot connect, no
  // answer in time), kPermissionDenied (the peer refused our key, or did
  // not prove its own: never trust it), kCorrupt (not our protocol).
  boost::asio::awaitable<Status> Open();
  // Sends one sealed frame and returns the peer's sealed answer, opened.
  // Errors: kIo (closed, timed out), kCorrupt (a frame failing its MAC:
  // the link is closed).
  boost::asio::awaitable<Result<referral::Frame>> Exchange(
      referral::FrameType type, std::string_view payload);
  bool is_open() const { return socket_.is_open() && sealer_.has_value(); }
  void Close();

 private:
  // Sends `frame` (encoded) and reads one frame back, within the timeout.
  boost::asio::awaitable<Result<referral::Frame>> RoundTrip(std::string frame);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::endpoint peer_;
  std::string key_;
  referral::SessionPurpose purpose_;
  std::chrono::milliseconds timeout_;
  referral::Framer framer_;
  std::optional<referral::FrameSealer> sealer_;
};

// Reconnection pacing (dfs/common/backoff.h).
using Backoff = dfs::Backoff;

}  // namespace dfs::referral_net
