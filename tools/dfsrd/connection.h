// One authenticated link between two dfsrd members over a blocking TCP
// socket: the session handshake of referral/session_crypto.h with the
// group key (purpose kContent: both sides prove the key before anything
// else), then sealed frames (a MAC on each) of the kRepl* types, every
// read and write bounded by a deadline (a peer that hangs costs the
// timeout without a byte moving, never a stuck thread). The sync exchange of
// one file runs over it through SyncChannel. Thread-safety: one connection
// belongs to one thread.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "dfs/common/result.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/session.h"
#include "dfs/repl/sync.h"
#include "rate_limiter.h"

namespace dfs::dfsrd {

// A sealed frame is at most a sync frame plus its type byte and MAC.
inline constexpr size_t kMaxLinkPayloadBytes = repl::kMaxSyncFrameBytes + 1024;

class Connection {
 public:
  // Connects to `address` (IP:PORT) and proves `key`; the peer must prove
  // it first. Errors: kIo (unreachable, timeout), kPermissionDenied (a
  // peer without the key, or one that refused ours).
  static Result<std::unique_ptr<Connection>> Connect(
      const std::string& address, const std::string& key,
      std::chrono::milliseconds timeout);
  // The server's side on an accepted socket (which it then owns): runs
  // the handshake through a ServerSession. Errors: kPermissionDenied.
  static Result<std::unique_ptr<Connection>> Accept(
      int fd, const referral::SessionKeys& keys,
      referral::AuthThrottle& throttle, std::mutex& throttle_mutex,
      std::string peer, std::chrono::milliseconds timeout);
  ~Connection();

  Status Send(referral::FrameType type, std::string_view payload);
  // The next frame, opened. Errors: kIo (closed, timeout), kCorrupt (a bad
  // frame or MAC: the connection is dead).
  Result<referral::Frame> Receive();
  Result<referral::Frame> Receive(std::chrono::milliseconds timeout);
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  // Writes take their bytes from `limiter` (may be null: no limit).
  void set_rate_limiter(RateLimiter* limiter) { limiter_ = limiter; }
  // Unblocks a thread waiting on this connection (from another thread).
  void Shutdown();
  const std::string& peer() const { return peer_; }

 private:
  Connection(int fd, std::string peer, std::chrono::milliseconds timeout);
  Status WriteAll(std::string_view bytes);
  Result<referral::Frame> ReadFrame(std::chrono::milliseconds timeout);

  int fd_;
  std::string peer_;
  std::chrono::milliseconds timeout_;
  referral::Framer framer_;
  std::deque<referral::Frame> pending_;
  std::optional<referral::FrameSealer> sealer_;       // client side
  std::unique_ptr<referral::ServerSession> session_;  // server side
  RateLimiter* limiter_ = nullptr;
  // Once the peer proved the key, a deadline counts from the last bytes
  // that moved (a slow or throttled link is not a hung one); before, from
  // the start of the frame.
  bool authenticated_ = false;
};

// The sync exchange (repl/sync.h) of one file over a connection: each
// sync message is one kReplSync frame; an error frame from the peer ends
// the exchange.
class SyncChannel final : public repl::Channel {
 public:
  explicit SyncChannel(Connection& connection) : connection_(connection) {}
  Status Send(repl::SyncMessage type, std::string_view payload) override;
  Result<repl::SyncFrame> Receive() override;

 private:
  Connection& connection_;
};

// "IPv4-ADDRESS:PORT" (members listen and connect only on numeric
// addresses: no name lookups). Errors: kInvalidArgument.
Result<sockaddr_in> ParseAddress(const std::string& address);

// The error an error frame carries.
Error ErrorOf(const referral::Frame& frame);

}  // namespace dfs::dfsrd
