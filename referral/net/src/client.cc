#include "dfs/referral_net/client.h"

#include "dfs/common/asio.h"
#include "dfs/common/error.h"
#include "dfs/referral/framing.h"
#include "dfs/referral_net/server.h"

namespace dfs::referral_net {

namespace asio = boost::asio;
using asio::ip::tcp;

Result<std::string> FetchReferral(const std::string& server,
                                  const referral::ReferralRequest& request,
                                  std::chrono::milliseconds timeout) {
  DFS_ASSIGN_OR_RETURN(tcp::endpoint endpoint, ParseEndpoint(server));
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code failure;
  referral::Framer framer;
  std::vector<referral::Frame> frames;
  std::array<char, 4096> buffer;
  const std::string out = referral::EncodeFrame(
      referral::FrameType::kReferralRequest, referral::EncodeRequest(request));
  std::function<void()> read_more = [&] {
    socket.async_read_some(
        asio::buffer(buffer), [&](boost::system::error_code ec, size_t n) {
          if (ec) {
            failure = ec;
            return;
          }
          auto got = framer.Feed(std::string_view(buffer.data(), n));
          if (!got) {
            failure = asio::error::invalid_argument;
            return;
          }
          frames = std::move(*got);
          if (frames.empty()) read_more();
        });
  };
  socket.async_connect(endpoint, [&](boost::system::error_code ec) {
    if (ec) {
      failure = ec;
      return;
    }
    asio::async_write(socket, asio::buffer(out),
                      [&](boost::system::error_code wec, size_t) {
                        if (wec) {
                          failure = wec;
                          return;
                        }
                        read_more();
                      });
  });
  io.run_for(timeout);
  if (frames.empty()) {
    return Fail(Errc::kIo,
                "no referral from " + server + ": " +
                    (failure ? failure.message() : std::string("timed out")));
  }
  const referral::Frame& reply = frames.front();
  if (reply.type == referral::FrameType::kReferralResponse)
    return reply.payload;
  if (reply.type == referral::FrameType::kError && reply.payload.size() >= 4) {
    uint32_t status = 0;
    for (int i = 3; i >= 0; --i)
      status = (status << 8) | static_cast<uint8_t>(reply.payload[i]);
    const std::string message = reply.payload.substr(4);
    if (status == 0xC0000225) return Fail(Errc::kNotFound, message);
    if (status == 0xC00000BB) return Fail(Errc::kUnsupported, message);
    return Fail(Errc::kInvalidArgument, message);
  }
  return Fail(Errc::kCorrupt, "unexpected reply from " + server);
}

}  // namespace dfs::referral_net
