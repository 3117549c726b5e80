#include "connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <variant>

#include "dfs/common/error.h"
#include "dfs/referral/codec.h"

namespace dfs::dfsrd {

using SteadyClock = std::chrono::steady_clock;
using referral::Frame;
using referral::FrameType;

namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
Status WaitFor(int fd, short events, SteadyClock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (left.count() <= 0) return Fail(Errc::kIo, "timed out");
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return Status::Ok();
    if (n < 0 && errno != EINTR) {
      return Fail(Errc::kIo, std::string("poll: ") + std::strerror(errno));
    }
  }
}

}  // namespace

Result<sockaddr_in> ParseAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    return Fail(Errc::kInvalidArgument,
                "'" + address + "' is not IPv4-ADDRESS:PORT");
  }
  char* end = nullptr;
  const long port = std::strtol(address.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) {
    return Fail(Errc::kInvalidArgument, "'" + address + "' has a bad port");
  }
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

Error ErrorOf(const Frame& frame) {
  return MakeError(Errc::kPermissionDenied,
                   referral::DecodeErrorPayload(frame.payload).message);
}

Connection::Connection(int fd, std::string peer,
                       std::chrono::milliseconds timeout)
    : fd_(fd),
      peer_(std::move(peer)),
      timeout_(timeout),
      framer_(referral::kMaxFramePayloadBytes) {
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Result<std::unique_ptr<Connection>> Connection::Connect(
    const std::string& address, const std::string& key,
    std::chrono::milliseconds timeout) {
  DFS_ASSIGN_OR_RETURN(sockaddr_in sa, ParseAddress(address));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Errc::kIo, std::strerror(errno));
  auto c = std::unique_ptr<Connection>(new Connection(fd, address, timeout));
  const auto deadline = SteadyClock::now() + timeout;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS) {
      return Fail(Errc::kIo,
                  "connecting to " + address + ": " + std::strerror(errno));
    }
    DFS_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline));
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      return Fail(Errc::kIo,
                  "connecting to " + address + ": " + std::strerror(error));
    }
  }
  referral::ClientHandshake handshake(key, referral::SessionPurpose::kContent);
  DFS_RETURN_IF_ERROR(c->WriteAll(handshake.Hello()));
  DFS_ASSIGN_OR_RETURN(Frame challenge, c->ReadFrame(timeout));
  DFS_ASSIGN_OR_RETURN(std::string auth, handshake.Answer(challenge));
  DFS_RETURN_IF_ERROR(c->WriteAll(auth));
  DFS_ASSIGN_OR_RETURN(Frame accepted, c->ReadFrame(timeout));
  DFS_ASSIGN_OR_RETURN(referral::FrameSealer sealer,
                       handshake.Accept(accepted));
  c->sealer_.emplace(std::move(sealer));
  c->framer_.set_max_payload(kMaxLinkPayloadBytes);
  c->authenticated_ = true;
  return c;
}

Result<std::unique_ptr<Connection>> Connection::Accept(
    int fd, const referral::SessionKeys& keys, referral::AuthThrottle& throttle,
    std::mutex& throttle_mutex, std::string peer,
    std::chrono::milliseconds timeout) {
  auto c =
      std::unique_ptr<Connection>(new Connection(fd, std::move(peer), timeout));
  c->session_ =
      std::make_unique<referral::ServerSession>(keys, throttle, c->peer_);
  // Hello, then auth: two frames at most before the session is up.
  for (int step = 0; step < 2; ++step) {
    auto read = c->ReadFrame(timeout);
    if (!read && step == 1) {
      // It left after our proof: it holds another key (or none).
      return Fail(Errc::kPermissionDenied,
                  "a peer from " + c->peer_ +
                      " left the handshake after our proof: it does not "
                      "hold the group key");
    }
    if (!read) return Unexpected<Error>(std::move(read).error());
    Frame frame = std::move(*read);
    referral::SessionStep result;
    {
      std::lock_guard lock(throttle_mutex);
      result = c->session_->OnFrame(frame, SteadyClock::now());
    }
    if (result.event == referral::SessionEvent::kWrongKey) {
      // Guessing is slow: every wrong key costs its connection a pause.
      std::this_thread::sleep_for(referral::kWrongKeyDelay);
    }
    if (!result.reply.empty()) DFS_RETURN_IF_ERROR(c->WriteAll(result.reply));
    if (c->session_->state() ==
        referral::ServerSession::State::kAuthenticated) {
      c->framer_.set_max_payload(kMaxLinkPayloadBytes);
      c->authenticated_ = true;
      return c;
    }
    if (result.event != referral::SessionEvent::kChallenged) break;
  }
  return Fail(Errc::kPermissionDenied,
              "a peer from " + c->peer_ + " did not prove the group key");
}

Status Connection::WriteAll(std::string_view bytes) {
  auto deadline = SteadyClock::now() + timeout_;
  while (!bytes.empty()) {
    size_t piece = bytes.size();
    if (limiter_ != nullptr) {
      piece = std::min<size_t>(piece, limiter_->piece_bytes());
      if (!limiter_->Acquire(piece)) {
        return Fail(Errc::kIo, "sending to " + peer_ + ": stopping");
      }
      deadline = SteadyClock::now() + timeout_;
    }
    const ssize_t n = ::send(fd_, bytes.data(), piece, MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      if (authenticated_) deadline = SteadyClock::now() + timeout_;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      DFS_RETURN_IF_ERROR(WaitFor(fd_, POLLOUT, deadline));
      continue;
    }
    return Fail(Errc::kIo, "sending to " + peer_ + ": " +
                               std::strerror(n < 0 ? errno : EPIPE));
  }
  return Status::Ok();
}

Result<Frame> Connection::ReadFrame(std::chrono::milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  char buffer[64 * 1024];
  while (pending_.empty()) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (authenticated_) deadline = SteadyClock::now() + timeout;
      auto frames =
          framer_.Feed(std::string_view(buffer, static_cast<size_t>(n)));
      if (!frames) return Unexpected<Error>(std::move(frames).error());
      for (auto& f : *frames) pending_.push_back(std::move(f));
      continue;
    }
    if (n == 0) return Fail(Errc::kIo, peer_ + " closed the connection");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      Status ready = WaitFor(fd_, POLLIN, deadline);
      if (!ready.ok()) {
        return Fail(Errc::kIo, "no answer from " + peer_ + " in " +
                                   std::to_string(timeout.count()) + " ms");
      }
      continue;
    }
    return Fail(Errc::kIo,
                "reading from " + peer_ + ": " + std::strerror(errno));
  }
  Frame frame = std::move(pending_.front());
  pending_.pop_front();
  return frame;
}

Status Connection::Send(FrameType type, std::string_view payload) {
  return WriteAll(sealer_ ? sealer_->Seal(type, payload)
                          : session_->Seal(type, payload));
}

Result<Frame> Connection::Receive() { return Receive(timeout_); }

Result<Frame> Connection::Receive(std::chrono::milliseconds timeout) {
  DFS_ASSIGN_OR_RETURN(Frame frame, ReadFrame(timeout));
  if (sealer_) {
    DFS_ASSIGN_OR_RETURN(std::string payload, sealer_->Open(frame));
    return Frame{frame.type, std::move(payload)};
  }
  referral::SessionStep step = session_->OnFrame(frame, SteadyClock::now());
  if (step.close) {
    return Fail(Errc::kCorrupt,
                "a frame from " + peer_ + " whose MAC does not match");
  }
  if (!step.request) {
    // Answered by the session itself (not allowed here): pass on nothing.
    if (!step.reply.empty()) DFS_RETURN_IF_ERROR(WriteAll(step.reply));
    return Fail(Errc::kCorrupt, "an unexpected frame from " + peer_);
  }
  auto* content = std::get_if<referral::ContentFrame>(&*step.request);
  if (content == nullptr) {
    return Fail(Errc::kCorrupt, "an unexpected request from " + peer_);
  }
  return Frame{content->type, std::move(content->payload)};
}

Status SyncChannel::Send(repl::SyncMessage type, std::string_view payload) {
  std::string body(1, static_cast<char>(type));
  body.append(payload);
  sent_ += body.size() + referral::kFrameHeaderBytes + referral::kFrameMacBytes;
  return connection_.Send(FrameType::kReplSync, body);
}

Result<repl::SyncFrame> SyncChannel::Receive() {
  DFS_ASSIGN_OR_RETURN(Frame frame, connection_.Receive());
  received_ += frame.payload.size() + referral::kFrameHeaderBytes +
               referral::kFrameMacBytes;
  if (frame.type == FrameType::kError) {
    return Unexpected<Error>(ErrorOf(frame));
  }
  if (frame.type != FrameType::kReplSync || frame.payload.empty() ||
      static_cast<uint8_t>(frame.payload[0]) < 1 ||
      static_cast<uint8_t>(frame.payload[0]) > repl::kMaxSyncMessage) {
    return Fail(Errc::kCorrupt, "not a sync message");
  }
  repl::SyncFrame out;
  out.type = static_cast<repl::SyncMessage>(frame.payload[0]);
  out.payload = frame.payload.substr(1);
  return out;
}

}  // namespace dfs::dfsrd
