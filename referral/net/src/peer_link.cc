#include "dfs/referral_net/peer_link.h"

#include <memory>

#include "coroutines.h"
#include "dfs/common/error.h"

namespace dfs::referral_net {

PeerLink::PeerLink(asio::any_io_executor executor, tcp::endpoint peer,
                   std::string key, referral::SessionPurpose purpose,
                   std::chrono::milliseconds timeout, size_t max_frame_bytes)
    : socket_(executor),
      peer_(peer),
      key_(std::move(key)),
      purpose_(purpose),
      timeout_(timeout),
      framer_(max_frame_bytes) {}

void PeerLink::Close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  sealer_.reset();
}

awaitable<Result<referral::Frame>> PeerLink::RoundTrip(std::string frame) {
  asio::steady_timer deadline(socket_.get_executor());
  deadline.expires_after(timeout_);
  // Whether this exchange still waits: a deadline handler already queued
  // when it ended (cancel() cannot recall it) must not close the next
  // exchange's connection.
  auto waiting = std::make_shared<bool>(true);
  deadline.async_wait([this, waiting](const boost::system::error_code& e) {
    boost::system::error_code ignored;
    if (!e && *waiting) socket_.close(ignored);
  });
  struct Done {
    std::shared_ptr<bool> waiting;
    ~Done() { *waiting = false; }
  } done{waiting};
  boost::system::error_code ec;
  co_await asio::async_write(socket_, asio::buffer(frame),
                             redirect_error(use_awaitable, ec));
  std::vector<char> buffer(64 * 1024);
  while (!ec) {
    const size_t n = co_await socket_.async_read_some(
        asio::buffer(buffer), redirect_error(use_awaitable, ec));
    if (ec) break;
    auto frames = framer_.Feed(std::string_view(buffer.data(), n));
    if (!frames) {
      Close();
      co_return Unexpected(frames.error());
    }
    if (!frames->empty()) co_return std::move(frames->front());
  }
  Close();
  co_return Fail(Errc::kIo, "no answer from " + peer_.address().to_string() +
                                ":" + std::to_string(peer_.port()) + ": " +
                                ec.message());
}

awaitable<Status> PeerLink::Open() {
  Close();
  boost::system::error_code ec;
  {
    asio::steady_timer deadline(socket_.get_executor());
    deadline.expires_after(timeout_);
    auto waiting = std::make_shared<bool>(true);
    deadline.async_wait([this, waiting](const boost::system::error_code& e) {
      boost::system::error_code ignored;
      if (!e && *waiting) socket_.close(ignored);
    });
    co_await socket_.async_connect(peer_, redirect_error(use_awaitable, ec));
    *waiting = false;
  }
  if (ec || !socket_.is_open()) {
    Close();
    co_return Fail(Errc::kIo, ec ? ec.message() : "connect timed out");
  }
  referral::ClientHandshake handshake(key_, purpose_);
  auto challenge = co_await RoundTrip(handshake.Hello());
  if (!challenge) co_return Unexpected(challenge.error());
  auto answer = handshake.Answer(*challenge);
  if (!answer) {
    Close();
    co_return Unexpected(answer.error());
  }
  auto accepted = co_await RoundTrip(std::move(*answer));
  if (!accepted) co_return Unexpected(accepted.error());
  auto sealer = handshake.Accept(*accepted);
  if (!sealer) {
    Close();
    co_return Unexpected(sealer.error());
  }
  sealer_.emplace(std::move(*sealer));
  co_return Status::Ok();
}

awaitable<Result<referral::Frame>> PeerLink::Exchange(
    referral::FrameType type, std::string_view payload) {
  if (!is_open()) co_return Fail(Errc::kIo, "the link is closed");
  std::string frame = sealer_->Seal(type, payload);
  auto reply = co_await RoundTrip(std::move(frame));
  if (!reply) co_return Unexpected(reply.error());
  auto opened = sealer_->Open(*reply);
  if (!opened) {
    Close();
    co_return Unexpected(opened.error());
  }
  reply->payload = std::move(*opened);
  co_return std::move(*reply);
}

}  // namespace dfs::referral_net
