// dfsd's connection (referral_net/src/connection.h) over an in-memory
// connection (a local socket pair: no port, no TCP) with its deadlines on a
// manual clock: the idle timeout, the pause a wrong key costs and the
// snapshot write deadline are checked by moving the clock to just before
// and just after each, never by waiting for them.
#include "connection.h"

#include <gtest/gtest.h>

#include "dfs/referral/session_crypto.h"
#include "testing/manual_clock.h"

namespace dfs::referral_net {
namespace {

using namespace std::chrono_literals;
using dfs::testing::ManualClock;
using dfs::testing::ManualTimer;
using dfs::testing::RunReady;
using Local = boost::asio::local::stream_protocol;
using referral::Frame;
using referral::FrameType;

const std::string kReplicaKey = "replica-key-0123456789abcdef";

// Answers referral frames with "answer:" + payload and snapshot requests
// with `snapshot_bytes` bytes, holding a snapshot slot like dfsd.
class FakeHost final : public ConnectionHost {
 public:
  std::string Answer(const Frame& frame,
                     const referral::Requester& client) override {
    ++answered;
    EXPECT_FALSE(client.address.has_value());  // a socket pair has none
    return referral::EncodeFrame(FrameType::kReferralResponse,
                                 "answer:" + frame.payload);
  }
  boost::asio::awaitable<Reply> Run(const referral::SessionRequest& request,
                                    referral::ServerSession& session,
                                    const std::string&) override {
    EXPECT_TRUE(std::holds_alternative<referral::SnapshotRequest>(request));
    auto slot = SnapshotSlot::TryTake(snapshots_in_flight, 1);
    if (!slot) co_return Reply{session.SealError(1, "busy"), std::nullopt};
    co_return Reply{session.Seal(FrameType::kSnapshotReply,
                                 std::string(snapshot_bytes, 's')),
                    std::move(slot)};
  }

  int answered = 0;
  size_t snapshot_bytes = 0;
  std::atomic<size_t> snapshots_in_flight{0};
};

class ConnectionTest : public ::testing::Test {
 protected:
  ConnectionTest() : peer_(io_) {
    keys_.replica_key = kReplicaKey;
    settings_.idle_timeout = 60s;
    settings_.snapshot_write_timeout = 10s;
    settings_.keys = &keys_;
    settings_.throttle = &throttle_;
    Local::socket server_end(io_);
    boost::asio::local::connect_pair(server_end, peer_);
    peer_.non_blocking(true);
    auto connection = std::make_shared<Connection<Local::socket, ManualTimer>>(
        std::move(server_end), referral::Requester{}, "peer", host_, settings_,
        counters_);
    boost::asio::co_spawn(io_, connection->Serve(),
                          [this](std::exception_ptr e) {
                            served_ = true;
                            EXPECT_FALSE(e);
                          });
    RunReady(io_);
  }

  void Send(std::string_view bytes) {
    boost::asio::write(peer_, boost::asio::buffer(bytes));
    RunReady(io_);
  }
  void Advance(ManualClock::duration d) {
    ManualClock::Advance(d);
    RunReady(io_);
  }

  // What the peer received so far as frames; sets `closed_` at end of
  // stream.
  std::vector<Frame> Receive() {
    std::vector<Frame> frames;
    std::array<char, 65536> buffer;
    for (;;) {
      boost::system::error_code ec;
      const size_t n = peer_.read_some(boost::asio::buffer(buffer), ec);
      if (ec == boost::asio::error::would_block) break;
      if (ec) {
        closed_ = true;
        break;
      }
      auto got = framer_.Feed(std::string_view(buffer.data(), n));
      EXPECT_TRUE(got.has_value());
      if (got) frames.insert(frames.end(), got->begin(), got->end());
    }
    return frames;
  }
  bool PeerClosed() {
    Receive();
    return closed_;
  }

  // Runs the handshake over the connection; the client's sealer.
  referral::FrameSealer Authenticate(const std::string& key) {
    referral::ClientHandshake client(key,
                                     referral::SessionPurpose::kReplication);
    Send(client.Hello());
    auto challenge = Receive();
    EXPECT_EQ(challenge.size(), 1u);
    auto auth = client.Answer(challenge.at(0));
    EXPECT_TRUE(auth.has_value());
    Send(*auth);
    auto accepted = Receive();
    EXPECT_EQ(accepted.size(), 1u);
    auto sealer = client.Accept(accepted.at(0));
    EXPECT_TRUE(sealer.has_value());
    return std::move(*sealer);
  }

  boost::asio::io_context io_;
  Local::socket peer_;
  referral::Framer framer_{referral::kMaxReplicationFrameBytes};
  bool closed_ = false;
  bool served_ = false;
  FakeHost host_;
  referral::SessionKeys keys_;
  referral::AuthThrottle throttle_;
  ConnectionSettings settings_;
  WorkerCounters counters_;
};

TEST_F(ConnectionTest, AnswersEveryFrameInOrderThroughTheHost) {
  Send(referral::EncodeFrame(FrameType::kReferralRequest, "one") +
       referral::EncodeFrame(FrameType::kReferralRequest, "two"));
  auto frames = Receive();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].payload, "answer:one");
  EXPECT_EQ(frames[1].payload, "answer:two");
  EXPECT_EQ(host_.answered, 2);
  EXPECT_FALSE(closed_);
}

TEST_F(ConnectionTest, AnIdleConnectionClosesAtItsDeadlineAndNotBefore) {
  Advance(59s);
  EXPECT_FALSE(PeerClosed());
  Advance(1s);
  EXPECT_TRUE(PeerClosed());
  EXPECT_EQ(counters_.idle_closed.Get(), 1u);
  EXPECT_TRUE(served_);  // the connection's coroutine ended too
}

TEST_F(ConnectionTest, OnlyWholeFramesBuyTime) {
  Advance(30s);
  Send(referral::EncodeFrame(FrameType::kReferralRequest, "x"));
  Advance(59s);  // 89 s in: the frame at 30 s moved the deadline to 90 s
  EXPECT_FALSE(PeerClosed());
  // Half a frame buys nothing: a peer trickling bytes meets the deadline.
  const std::string frame =
      referral::EncodeFrame(FrameType::kReferralRequest, "trickled");
  Send(frame.substr(0, frame.size() / 2));
  Advance(1s);
  EXPECT_TRUE(PeerClosed());
  EXPECT_EQ(counters_.idle_closed.Get(), 1u);
}

TEST_F(ConnectionTest, AWrongKeyCostsItsConnectionThePauseBeforeTheAnswer) {
  referral::ClientHandshake guesser("not-the-replica-key-0123456",
                                    referral::SessionPurpose::kReplication);
  Send(guesser.Hello());
  ASSERT_EQ(Receive().size(), 1u);  // the challenge
  Send(referral::EncodeFrame(FrameType::kAdminAuth, std::string(32, 'g')));
  Advance(referral::kWrongKeyDelay - 1ms);
  EXPECT_TRUE(Receive().empty());  // still paused
  Advance(1ms);
  auto refusal = Receive();
  ASSERT_EQ(refusal.size(), 1u);
  EXPECT_EQ(refusal[0].type, FrameType::kError);
}

TEST_F(ConnectionTest, ASnapshotThePeerDoesNotReadIsCutOffAtTheDeadline) {
  referral::FrameSealer sealer = Authenticate(kReplicaKey);
  // Far more than a socket pair buffers: the write cannot finish unread.
  host_.snapshot_bytes = size_t{32} << 20;
  Send(sealer.Seal(FrameType::kSnapshotRequest, ""));
  EXPECT_EQ(host_.snapshots_in_flight.load(), 1u);
  Advance(10s - 1ms);
  EXPECT_EQ(host_.snapshots_in_flight.load(), 1u);  // still being written
  Advance(1ms);
  EXPECT_EQ(host_.snapshots_in_flight.load(), 0u);  // the slot came back
  EXPECT_TRUE(PeerClosed());
  EXPECT_TRUE(served_);
}

TEST_F(ConnectionTest, AMalformedFrameClosesTheConnectionAndIsCounted) {
  Send(std::string(8, '\xff'));
  EXPECT_TRUE(PeerClosed());
  EXPECT_EQ(counters_.malformed_frames.Get(), 1u);
  EXPECT_EQ(host_.answered, 0);
}

}  // namespace
}  // namespace dfs::referral_net
