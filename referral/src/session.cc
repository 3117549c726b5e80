#include "dfs/referral/session.h"

#include <algorithm>

namespace dfs::referral {

const std::string& SessionKeys::For(SessionPurpose purpose) const {
  if (purpose == SessionPurpose::kContent) return content_key;
  if (purpose == SessionPurpose::kReplication && !replica_key.empty()) {
    return replica_key;
  }
  return admin_key;
}

// ------------------------------------------------------------ throttle

size_t AuthThrottle::tracked_addresses() const {
  std::lock_guard lock(mutex_);
  return failures_.size();
}

bool AuthThrottle::Refuses(const std::string& address,
                           SessionClock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return false;
  auto& times = it->second;
  while (!times.empty() && now - times.front() > kWindow) times.pop_front();
  if (times.empty()) {
    failures_.erase(it);
    return false;
  }
  return times.size() >= kMaxFailures;
}

void AuthThrottle::RecordFailure(const std::string& address,
                                 SessionClock::time_point now) {
  std::lock_guard lock(mutex_);
  if (failures_.size() >= kMaxTrackedAddresses) {
    // Many guessing addresses: forget those whose window has passed first,
    // so the table stays bounded.
    std::erase_if(failures_, [&](const auto& kv) {
      return kv.second.empty() || now - kv.second.back() > kWindow;
    });
  }
  auto& times = failures_[address];
  times.push_back(now);
  while (times.size() > kMaxFailures) times.pop_front();
}

std::optional<uint64_t> AuthThrottle::NoteRefusal(
    SessionClock::time_point now) {
  std::lock_guard lock(mutex_);
  ++unlogged_;
  if (logged_at_ && now - *logged_at_ < kLogInterval) return std::nullopt;
  logged_at_ = now;
  return std::exchange(unlogged_, 0);
}

// ------------------------------------------------------------ session

ServerSession::ServerSession(const SessionKeys& keys, AuthThrottle& throttle,
                             std::string peer, NonceSource nonce)
    : keys_(keys),
      throttle_(throttle),
      peer_(std::move(peer)),
      nonce_(std::move(nonce)) {}

bool ServerSession::Claims(const Frame& frame) const {
  if (state_ == State::kAuthenticated || state_ == State::kClosed) return true;
  return frame.type >= FrameType::kAdminHello ||
         frame.type == FrameType::kChangesRequest ||
         frame.type == FrameType::kSnapshotRequest;
}

SessionStep ServerSession::Unsealed(SessionEvent event, uint32_t status,
                                    std::string_view message) {
  SessionStep step;
  step.event = event;
  step.reply = EncodeErrorFrame(status, message);
  return step;
}

SessionStep ServerSession::Closed() {
  SessionStep step;
  step.event = SessionEvent::kBadMac;
  step.close = true;
  return step;
}

SessionStep ServerSession::OnFrame(const Frame& frame,
                                   SessionClock::time_point now) {
  switch (state_) {
    case State::kClosed:
      return Closed();
    case State::kAuthenticated:
      return OnSealed(frame);
    case State::kAwaitingHello:
    case State::kChallenged:
      break;
  }
  switch (frame.type) {
    case FrameType::kAdminHello:
      return OnHello(frame);
    case FrameType::kAdminAuth:
      return OnAuth(frame, now);
    case FrameType::kChangesRequest:
    case FrameType::kSnapshotRequest:
    case FrameType::kReplIndexRequest:
    case FrameType::kReplFileRequest:
    case FrameType::kReplSync:
    case FrameType::kReplBatchRequest: {
      auto step = Unsealed(SessionEvent::kUnauthenticated, kStatusAccessDenied,
                           "replication needs an authenticated session (dfsd "
                           "--replica-key on both sides)");
      step.log_refusals = throttle_.NoteRefusal(now);
      return step;
    }
    case FrameType::kAdminCommand: {
      auto step = Unsealed(SessionEvent::kUnauthenticated, kStatusAccessDenied,
                           "not authenticated: give --key FILE; nothing was "
                           "changed");
      step.log_refusals = throttle_.NoteRefusal(now);
      return step;
    }
    default:
      return Unsealed(SessionEvent::kMalformed, kStatusInvalidParameter,
                      "unexpected session frame");
  }
}

SessionStep ServerSession::OnHello(const Frame& frame) {
  if (frame.payload.size() != 1 + kSessionNonceBytes ||
      (frame.payload[0] != static_cast<char>(SessionPurpose::kAdmin) &&
       frame.payload[0] != static_cast<char>(SessionPurpose::kReplication) &&
       frame.payload[0] != static_cast<char>(SessionPurpose::kContent))) {
    return Unsealed(SessionEvent::kMalformed, kStatusInvalidParameter,
                    "hello needs a purpose and a 32-byte nonce (session "
                    "protocol v2: update dfsutil/dfsd)");
  }
  const auto purpose = static_cast<SessionPurpose>(frame.payload[0]);
  if (keys_.For(purpose).empty() ||
      (purpose == SessionPurpose::kAdmin && !keys_.admin_commands_enabled)) {
    state_ = State::kAwaitingHello;
    return Unsealed(SessionEvent::kOff, kStatusAccessDenied,
                    purpose == SessionPurpose::kAdmin
                        ? "remote administration is off on this server "
                          "(start dfsd with --admin-key FILE)"
                    : purpose == SessionPurpose::kReplication
                        ? "replication is off on this server (start dfsd "
                          "with --replica-key FILE)"
                        : "this server replicates no content");
  }
  purpose_ = purpose;
  client_nonce_ = frame.payload.substr(1);
  server_nonce_ = nonce_();
  state_ = State::kChallenged;
  SessionStep step;
  step.event = SessionEvent::kChallenged;
  step.reply =
      EncodeFrame(FrameType::kAdminChallenge,
                  server_nonce_ + ServerProof(keys_.For(purpose_), purpose_,
                                              client_nonce_, server_nonce_));
  return step;
}

SessionStep ServerSession::OnAuth(const Frame& frame,
                                  SessionClock::time_point now) {
  if (throttle_.Refuses(peer_, now)) {
    state_ = State::kAwaitingHello;
    auto step = Unsealed(SessionEvent::kThrottled, kStatusAccessDenied,
                         "too many wrong keys from this address: try again "
                         "in a minute; nothing was changed");
    step.log_refusals = throttle_.NoteRefusal(now);
    return step;
  }
  const std::string& key = keys_.For(purpose_);
  const bool ok =
      state_ == State::kChallenged && !key.empty() &&
      MacMatches(ClientProof(key, purpose_, client_nonce_, server_nonce_),
                 frame.payload);
  if (!ok) {
    state_ = State::kAwaitingHello;  // one try per challenge
    server_nonce_.clear();
    throttle_.RecordFailure(peer_, now);
    auto step = Unsealed(SessionEvent::kWrongKey, kStatusAccessDenied,
                         "wrong key: nothing was changed");
    step.log_refusals = throttle_.NoteRefusal(now);
    return step;
  }
  sealer_.emplace(SessionKey(key, purpose_, client_nonce_, server_nonce_),
                  /*is_client=*/false);
  state_ = State::kAuthenticated;
  SessionStep step;
  step.event = SessionEvent::kAuthenticated;
  // Only now may this connection send frames big enough for imports.
  if (purpose_ == SessionPurpose::kAdmin) {
    step.max_payload = kMaxAdminUploadBytes + 64 * 1024;
  }
  step.reply = Seal(FrameType::kAdminResult,
                    EncodeAdminResult({0, "authenticated\n", ""}));
  return step;
}

SessionStep ServerSession::OnSealed(const Frame& frame) {
  // After the handshake every frame must carry its MAC; one that does not
  // ends the connection (nothing in it is trusted).
  auto opened = sealer_->Open(frame);
  if (!opened) {
    state_ = State::kClosed;
    return Closed();
  }
  SessionStep step;
  auto refuse = [&](SessionEvent event, uint32_t status,
                    std::string_view message) {
    step.event = event;
    step.reply = SealError(status, message);
    return step;
  };
  if (purpose_ == SessionPurpose::kAdmin &&
      frame.type == FrameType::kAdminCommand) {
    auto command = DecodeAdminCommand(*opened);
    if (!command) {
      return refuse(SessionEvent::kMalformed, kStatusInvalidParameter,
                    command.error().Message());
    }
    step.request = std::move(*command);
    return step;
  }
  if (purpose_ == SessionPurpose::kReplication &&
      frame.type == FrameType::kChangesRequest) {
    auto request = DecodeChangesRequest(*opened);
    if (!request) {
      return refuse(SessionEvent::kMalformed, kStatusInvalidParameter,
                    request.error().Message());
    }
    step.request = *request;
    return step;
  }
  if (purpose_ == SessionPurpose::kReplication &&
      frame.type == FrameType::kSnapshotRequest) {
    step.request = SnapshotRequest{};
    return step;
  }
  if (purpose_ == SessionPurpose::kContent &&
      frame.type >= FrameType::kReplIndexRequest) {
    step.request = ContentFrame{frame.type, std::move(*opened)};
    return step;
  }
  return refuse(SessionEvent::kNotAllowed, kStatusInvalidParameter,
                "not allowed in this session");
}

std::string ServerSession::Seal(FrameType type, std::string_view payload) {
  return sealer_->Seal(type, payload);
}

std::string ServerSession::SealError(uint32_t status,
                                     std::string_view message) {
  return Seal(FrameType::kError,
              EncodeErrorPayload({status, std::string(message)}));
}

}  // namespace dfs::referral
