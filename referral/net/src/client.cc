#include "dfs/referral_net/client.h"

#include <sys/socket.h>

#include "dfs/common/asio.h"
#include "dfs/common/error.h"
#include "dfs/referral_net/server.h"

namespace dfs::referral_net {

namespace asio = boost::asio;
using asio::ip::tcp;

class FramedClient::Impl {
 public:
  Impl(size_t max_reply_bytes) : socket_(io_), framer_(max_reply_bytes) {}
  asio::io_context io_;
  tcp::socket socket_;
  referral::Framer framer_;
  std::string server_;
};

FramedClient::FramedClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
FramedClient::~FramedClient() = default;

Result<std::unique_ptr<FramedClient>> FramedClient::Connect(
    const std::string& server, std::chrono::milliseconds timeout,
    size_t max_reply_bytes) {
  DFS_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseEndpoint(server));
  auto impl = std::make_unique<Impl>(max_reply_bytes);
  impl->server_ = server;
  // The connect runs asynchronously so that the deadline applies to it;
  // later steps block with socket timeouts.
  boost::system::error_code ec = asio::error::timed_out;
  impl->socket_.async_connect(endpoint,
                              [&ec](boost::system::error_code e) { ec = e; });
  impl->io_.run_for(timeout);
  if (ec) {
    return Fail(Errc::kIo, "cannot reach " + server + ": " + ec.message());
  }
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timeval tv{static_cast<time_t>(secs.count()),
             static_cast<suseconds_t>((timeout - secs).count() * 1000)};
  setsockopt(impl->socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv,
             sizeof tv);
  setsockopt(impl->socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv,
             sizeof tv);
  return std::unique_ptr<FramedClient>(new FramedClient(std::move(impl)));
}

Result<referral::Frame> FramedClient::Exchange(referral::FrameType type,
                                               std::string_view payload) {
  boost::system::error_code ec;
  asio::write(impl_->socket_,
              asio::buffer(referral::EncodeFrame(type, payload)), ec);
  std::vector<char> buffer(64 * 1024);
  while (!ec) {
    const size_t n = impl_->socket_.read_some(asio::buffer(buffer), ec);
    if (ec) break;
    DFS_ASSIGN_OR_RETURN(
        auto frames, impl_->framer_.Feed(std::string_view(buffer.data(), n)));
    if (!frames.empty()) return std::move(frames.front());
  }
  return Fail(Errc::kIo,
              "no reply from " + impl_->server_ + ": " + ec.message());
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
  DFS_ASSIGN_OR_RETURN(
      auto client,
      FramedClient::Connect(server, timeout, referral::kMaxFramePayloadBytes));
  DFS_ASSIGN_OR_RETURN(referral::Frame reply,
                       client->Exchange(referral::FrameType::kReferralRequest,
                                        referral::EncodeRequest(request)));
  if (reply.type == referral::FrameType::kReferralResponse)
    return std::move(reply.payload);
  return Unexpected<Error>(ErrorFromFrame(reply));
}

}  // namespace dfs::referral_net
