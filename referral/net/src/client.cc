#include "dfs/referral_net/client.h"

#include "dfs/common/asio.h"
#include "dfs/common/error.h"
#include "dfs/referral_net/server.h"

namespace dfs::referral_net {

namespace asio = boost::asio;
using asio::ip::tcp;

class FramedClient::Impl {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  Impl(size_t max_reply_bytes, std::chrono::milliseconds timeout)
      : socket_(io_), framer_(max_reply_bytes), timeout_(timeout) {}

  // Starts one asynchronous operation with `start(handler)` and runs the
  // context until it completes or `deadline` passes. On the deadline the
  // socket is closed (the peer's state is unknown: the connection cannot
  // be reused) and the aborted handler drained. Socket timeouts
  // (SO_RCVTIMEO) cannot do this: Asio's sockets are non-blocking inside,
  // so the kernel never applies them.
  template <typename Start>
  boost::system::error_code Run(Start start, Deadline deadline,
                                size_t* transferred = nullptr) {
    boost::system::error_code result = asio::error::timed_out;
    bool done = false;
    io_.restart();
    start([&](boost::system::error_code ec, size_t n = 0) {
      done = true;
      result = ec;
      if (transferred) *transferred = n;
    });
    const auto now = std::chrono::steady_clock::now();
    if (deadline > now) io_.run_for(deadline - now);
    if (!done) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return result;
  }

  asio::io_context io_;
  tcp::socket socket_;
  referral::Framer framer_;
  std::string server_;
  std::chrono::milliseconds timeout_;
};

FramedClient::FramedClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
FramedClient::~FramedClient() = default;
std::chrono::milliseconds FramedClient::timeout() const {
  return impl_->timeout_;
}

Result<std::unique_ptr<FramedClient>> FramedClient::Connect(
    const std::string& server, std::chrono::milliseconds timeout,
    size_t max_reply_bytes) {
  DFS_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseEndpoint(server));
  auto impl = std::make_unique<Impl>(max_reply_bytes, timeout);
  impl->server_ = server;
  const auto ec = impl->Run(
      [&](auto handler) { impl->socket_.async_connect(endpoint, handler); },
      std::chrono::steady_clock::now() + timeout);
  if (ec) {
    return Fail(Errc::kIo, "cannot reach " + server + ": " + ec.message());
  }
  return std::unique_ptr<FramedClient>(new FramedClient(std::move(impl)));
}

Result<referral::Frame> FramedClient::ExchangeBy(
    referral::FrameType type, std::string_view payload,
    std::chrono::steady_clock::time_point deadline) {
  return ExchangeEncoded(referral::EncodeFrame(type, payload), deadline);
}

Result<referral::Frame> FramedClient::ExchangeEncoded(
    const std::string& frame, std::chrono::steady_clock::time_point deadline) {
  Impl& c = *impl_;
  if (!c.socket_.is_open()) {
    return Fail(Errc::kIo, "connection to " + c.server_ + " is closed");
  }
  auto ec = c.Run(
      [&](auto handler) {
        asio::async_write(c.socket_, asio::buffer(frame), handler);
      },
      deadline);
  std::vector<char> buffer(64 * 1024);
  while (!ec) {
    size_t n = 0;
    ec = c.Run(
        [&](auto handler) {
          c.socket_.async_read_some(asio::buffer(buffer), handler);
        },
        deadline, &n);
    if (ec) break;
    DFS_ASSIGN_OR_RETURN(auto frames,
                         c.framer_.Feed(std::string_view(buffer.data(), n)));
    if (!frames.empty()) return std::move(frames.front());
  }
  return Fail(Errc::kIo,
              (ec == asio::error::timed_out ? "no reply in time from "
                                            : "no reply from ") +
                  c.server_ + ": " + ec.message());
}

Error ErrorFromFrame(const referral::Frame& frame) {
  if (frame.type != referral::FrameType::kError) {
    return MakeError(Errc::kCorrupt,
                     "unexpected reply (frame type " +
                         std::to_string(static_cast<int>(frame.type)) + ")");
  }
  referral::ErrorReply reply = referral::DecodeErrorPayload(frame.payload);
  switch (reply.status) {
    case referral::kStatusNotFound:
      return MakeError(Errc::kNotFound, reply.message);
    case referral::kStatusNotSupported:
      return MakeError(Errc::kUnsupported, reply.message);
    default:
      return MakeError(Errc::kInvalidArgument, reply.message);
  }
}

Result<std::string> FetchReferral(const std::string& server,
                                  const referral::ReferralRequest& request,
                                  std::chrono::milliseconds timeout) {
  // One deadline for the whole exchange: a server that accepts and then
  // says nothing costs the caller `timeout`, not forever.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  DFS_ASSIGN_OR_RETURN(
      auto client,
      FramedClient::Connect(server, timeout, referral::kMaxFramePayloadBytes));
  DFS_ASSIGN_OR_RETURN(
      referral::Frame reply,
      client->ExchangeBy(referral::FrameType::kReferralRequest,
                         referral::EncodeRequest(request), deadline));
  if (reply.type == referral::FrameType::kReferralResponse)
    return std::move(reply.payload);
  return Unexpected<Error>(ErrorFromFrame(reply));
}

}  // namespace dfs::referral_net
