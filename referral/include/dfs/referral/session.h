// The server's side of one authenticated session (remote admin or
// replication), as a state machine without sockets: frames in, the bytes
// to send and a typed request out. The connection code in referral_net
// moves bytes, runs the requests (an admin command on the admin thread, a
// snapshot on the replication thread) and hands their answers back to be
// sealed; it decides nothing about who may do what.
//
//   kAwaitingHello --hello(purpose, nonce)--> kChallenged
//   kChallenged --auth(right proof)--> kAuthenticated(purpose)
//   kChallenged --auth(wrong proof)--> kAwaitingHello (one try a challenge)
//   kAuthenticated --frame with a bad MAC--> kClosed
//
// Before authentication only hello and auth are answered; an admin
// command, a changes or a snapshot request is refused unsealed. After it,
// every frame must carry its MAC (session_crypto.h) and only the requests
// of the proved purpose are passed on: an admin session may send admin
// commands, a replication session changes and snapshot requests, a
// content session (dfsrd) its kRepl* frames.
// Wrong keys are throttled per address (AuthThrottle).
// Thread-safety: one session belongs to one connection; the throttle is
// shared by the server's sessions on its one io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "dfs/referral/admin.h"
#include "dfs/referral/framing.h"
#include "dfs/referral/namespace_copy.h"
#include "dfs/referral/session_crypto.h"

namespace dfs::referral {

using SessionClock = std::chrono::steady_clock;

// What the keys allow on this server. An empty key turns its purpose off;
// replication falls back to the admin key when it has none of its own.
struct SessionKeys {
  std::string admin_key;
  std::string replica_key;
  std::string content_key;              // dfsrd's group key; never falls back
  bool admin_commands_enabled = false;  // the server can run commands
  const std::string& For(SessionPurpose purpose) const;
};

// Wrong keys by client address: after kMaxFailures within kWindow an
// address is refused without a check until the window has passed. Also
// keeps the refusal log to one line per kLogInterval.
// Thread-safety: every call may come from any thread (dfsd's connections
// run on several).
class AuthThrottle {
 public:
  static constexpr size_t kMaxFailures = 5;
  static constexpr auto kWindow = std::chrono::seconds(60);
  static constexpr auto kLogInterval = std::chrono::seconds(10);
  static constexpr size_t kMaxTrackedAddresses = 65536;

  bool Refuses(const std::string& address, SessionClock::time_point now);
  void RecordFailure(const std::string& address, SessionClock::time_point now);
  // A refusal happened; the count to log (refusals since the last line,
  // this one included) when a line is due, else nothing.
  std::optional<uint64_t> NoteRefusal(SessionClock::time_point now);
  size_t tracked_addresses() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<SessionClock::time_point>> failures_;
  uint64_t unlogged_ = 0;
  std::optional<SessionClock::time_point> logged_at_;
};

// The typed requests an authenticated session passes on.
struct SnapshotRequest {};
// A content session's frames (dfsrd) are passed on as they are: their
// owner decodes them.
struct ContentFrame {
  FrameType type;
  std::string payload;
};
using SessionRequest =
    std::variant<AdminCommand, ChangesRequest, SnapshotRequest, ContentFrame>;

// What happened, for the server's log and metrics.
enum class SessionEvent {
  kNone,
  kChallenged,
  kAuthenticated,
  kWrongKey,         // the shell waits kWrongKeyDelay, then replies
  kThrottled,        // too many wrong keys from this address
  kUnauthenticated,  // a request before authentication
  kBadMac,           // the connection must be closed
  kMalformed,        // a frame that decodes to nothing (answered)
  kNotAllowed,       // a request the proved purpose does not allow
  kOff,              // that purpose is off on this server
};

struct SessionStep {
  std::string reply;  // whole frames to send now (may be empty)
  std::optional<SessionRequest> request;  // work for the shell
  SessionEvent event = SessionEvent::kNone;
  bool close = false;  // drop the connection, send nothing
  // Raise the framer's payload limit to this (an admin may upload).
  std::optional<size_t> max_payload;
  // For the log when event is kWrongKey, kThrottled or kUnauthenticated:
  // refusals since the last such line, when one is due (a flood of
  // refusals is one line per AuthThrottle::kLogInterval).
  std::optional<uint64_t> log_refusals;
};

// What a wrong key costs its connection before the answer.
inline constexpr auto kWrongKeyDelay = std::chrono::milliseconds(500);

class ServerSession {
 public:
  enum class State { kAwaitingHello, kChallenged, kAuthenticated, kClosed };
  using NonceSource = std::function<std::string()>;

  // `keys` and `throttle` must outlive the session; `peer` is the client's
  // address (the throttle's key). `nonce` makes server nonces (NewNonce,
  // or a fixed one in tests).
  ServerSession(const SessionKeys& keys, AuthThrottle& throttle,
                std::string peer, NonceSource nonce = NewNonce);

  // Whether `frame` belongs to the session rather than to the referral
  // handler: every frame once authenticated; before, the session's own
  // frame types and the replication requests (so they are refused here).
  bool Claims(const Frame& frame) const;
  SessionStep OnFrame(const Frame& frame, SessionClock::time_point now);

  // The answer to a request OnFrame passed on, sealed (kAuthenticated
  // only).
  std::string Seal(FrameType type, std::string_view payload);
  std::string SealError(uint32_t status, std::string_view message);

  State state() const { return state_; }
  SessionPurpose purpose() const { return purpose_; }

 private:
  SessionStep OnHello(const Frame& frame);
  SessionStep OnAuth(const Frame& frame, SessionClock::time_point now);
  SessionStep OnSealed(const Frame& frame);
  static SessionStep Closed();
  SessionStep Unsealed(SessionEvent event, uint32_t status,
                       std::string_view message);

  const SessionKeys& keys_;
  AuthThrottle& throttle_;
  std::string peer_;
  NonceSource nonce_;
  State state_ = State::kAwaitingHello;
  SessionPurpose purpose_ = SessionPurpose::kAdmin;
  std::string client_nonce_, server_nonce_;
  std::optional<FrameSealer> sealer_;
};

}  // namespace dfs::referral
