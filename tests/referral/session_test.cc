// The server's session state machine (referral/session.h) driven by the
// real client side (ClientHandshake, FrameSealer): no sockets.
#include "dfs/referral/session.h"

#include <gtest/gtest.h>

namespace dfs::referral {
namespace {

using namespace std::chrono_literals;

const std::string kAdminKey = "admin-key-0123456789abcdef";
const std::string kReplicaKey = "replica-key-0123456789abcdef";

Frame Decode(const std::string& bytes) {
  Framer framer(kMaxReplicationFrameBytes);
  auto frames = framer.Feed(bytes);
  EXPECT_TRUE(frames.has_value());
  EXPECT_EQ(frames->size(), 1u);
  return frames->empty() ? Frame{FrameType::kError, ""} : frames->front();
}

struct Fixture {
  SessionKeys keys{kAdminKey, kReplicaKey, /*content_key=*/"",
                   /*admin_commands_enabled=*/true};
  AuthThrottle throttle;
  SessionClock::time_point now = SessionClock::now();
};

// Runs the handshake with `key`; the client's sealer when the server
// accepted it.
std::optional<FrameSealer> Handshake(ServerSession& session,
                                     const std::string& key,
                                     SessionPurpose purpose,
                                     SessionClock::time_point now,
                                     SessionStep* last = nullptr) {
  ClientHandshake client(key, purpose);
  SessionStep hello = session.OnFrame(Decode(client.Hello()), now);
  EXPECT_EQ(hello.event, SessionEvent::kChallenged);
  auto auth = client.Answer(Decode(hello.reply));
  if (!auth) return std::nullopt;  // the server did not prove the key
  SessionStep accepted = session.OnFrame(Decode(*auth), now);
  if (last != nullptr) *last = accepted;
  auto sealer = client.Accept(Decode(accepted.reply));
  if (!sealer) return std::nullopt;
  return std::move(*sealer);
}

TEST(ServerSessionTest, AdminSessionPassesCommandsOnTyped) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.1");
  SessionStep accepted;
  auto client =
      Handshake(session, kAdminKey, SessionPurpose::kAdmin, f.now, &accepted);
  ASSERT_TRUE(client.has_value());
  EXPECT_EQ(session.state(), ServerSession::State::kAuthenticated);
  EXPECT_EQ(accepted.event, SessionEvent::kAuthenticated);
  // Only an authenticated admin may send frames big enough for an import.
  ASSERT_TRUE(accepted.max_payload.has_value());
  EXPECT_GT(*accepted.max_payload, kMaxAdminUploadBytes);

  AdminCommand command{{"root", "list"}, ""};
  Frame frame = Decode(
      client->Seal(FrameType::kAdminCommand, EncodeAdminCommand(command)));
  EXPECT_TRUE(session.Claims(frame));
  SessionStep step = session.OnFrame(frame, f.now);
  ASSERT_TRUE(step.request.has_value());
  ASSERT_TRUE(std::holds_alternative<AdminCommand>(*step.request));
  EXPECT_EQ(std::get<AdminCommand>(*step.request), command);
  EXPECT_TRUE(step.reply.empty());

  // The answer the shell hands back is sealed for this client.
  Frame answer = Decode(session.Seal(FrameType::kAdminResult,
                                     EncodeAdminResult({0, "ok\n", ""})));
  auto opened = client->Open(answer);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(DecodeAdminResult(*opened)->out, "ok\n");

  // An admin session may not ask for the namespace's change log.
  SessionStep refused =
      session.OnFrame(Decode(client->Seal(FrameType::kChangesRequest,
                                          EncodeChangesRequest({0, 10}))),
                      f.now);
  EXPECT_EQ(refused.event, SessionEvent::kNotAllowed);
  EXPECT_FALSE(refused.request.has_value());
  Frame error = Decode(refused.reply);
  EXPECT_EQ(error.type, FrameType::kError);
  EXPECT_TRUE(client->Open(error).has_value());  // sealed
}

TEST(ServerSessionTest, ReplicationSessionUsesTheReplicaKey) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.2");
  // The admin key is not the replication key when a replica key is set.
  EXPECT_FALSE(
      Handshake(session, kAdminKey, SessionPurpose::kReplication, f.now)
          .has_value());
  ServerSession second(f.keys, f.throttle, "10.0.0.2");
  SessionStep accepted;
  auto client = Handshake(second, kReplicaKey, SessionPurpose::kReplication,
                          f.now, &accepted);
  ASSERT_TRUE(client.has_value());
  EXPECT_FALSE(accepted.max_payload.has_value());

  SessionStep changes =
      second.OnFrame(Decode(client->Seal(FrameType::kChangesRequest,
                                         EncodeChangesRequest({41, 7}))),
                     f.now);
  ASSERT_TRUE(changes.request.has_value());
  const auto& request = std::get<ChangesRequest>(*changes.request);
  EXPECT_EQ(request.since, 41u);
  EXPECT_EQ(request.max_entries, 7u);

  SessionStep snapshot = second.OnFrame(
      Decode(client->Seal(FrameType::kSnapshotRequest, "")), f.now);
  ASSERT_TRUE(snapshot.request.has_value());
  EXPECT_TRUE(std::holds_alternative<SnapshotRequest>(*snapshot.request));

  // A replication session may not run admin commands.
  SessionStep command = second.OnFrame(
      Decode(client->Seal(FrameType::kAdminCommand,
                          EncodeAdminCommand({{"root", "list"}, ""}))),
      f.now);
  EXPECT_EQ(command.event, SessionEvent::kNotAllowed);
  EXPECT_FALSE(command.request.has_value());

  // A sealed request that does not decode is answered, not passed on.
  SessionStep bad = second.OnFrame(
      Decode(client->Seal(FrameType::kChangesRequest, "xx")), f.now);
  EXPECT_EQ(bad.event, SessionEvent::kMalformed);
  EXPECT_FALSE(bad.request.has_value());
  EXPECT_FALSE(bad.close);
}

TEST(ServerSessionTest, RefusesRequestsBeforeAuthentication) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.3");
  // Referrals are the request handler's, not the session's.
  EXPECT_FALSE(session.Claims({FrameType::kReferralRequest, "x"}));
  for (FrameType type : {FrameType::kAdminCommand, FrameType::kChangesRequest,
                         FrameType::kSnapshotRequest}) {
    Frame frame{type, type == FrameType::kAdminCommand
                          ? EncodeAdminCommand({{"root", "remove"}, ""})
                          : EncodeChangesRequest({0, 1})};
    EXPECT_TRUE(session.Claims(frame));
    SessionStep step = session.OnFrame(frame, f.now);
    EXPECT_EQ(step.event, SessionEvent::kUnauthenticated);
    EXPECT_FALSE(step.request.has_value());
    Frame reply = Decode(step.reply);
    EXPECT_EQ(reply.type, FrameType::kError);
    EXPECT_EQ(DecodeErrorPayload(reply.payload).status, kStatusAccessDenied);
  }
  // An auth with no challenge before it proves nothing.
  SessionStep auth =
      session.OnFrame({FrameType::kAdminAuth, std::string(32, 'x')}, f.now);
  EXPECT_EQ(auth.event, SessionEvent::kWrongKey);
  EXPECT_EQ(session.state(), ServerSession::State::kAwaitingHello);
  // A malformed hello.
  SessionStep hello =
      session.OnFrame({FrameType::kAdminHello, "\x01short"}, f.now);
  EXPECT_EQ(hello.event, SessionEvent::kMalformed);
}

TEST(ServerSessionTest, PurposesThatAreOffAreRefusedAtHello) {
  Fixture f;
  f.keys.admin_commands_enabled = false;
  f.keys.replica_key.clear();
  f.keys.admin_key.clear();
  ServerSession session(f.keys, f.throttle, "10.0.0.4");
  for (SessionPurpose purpose :
       {SessionPurpose::kAdmin, SessionPurpose::kReplication}) {
    ClientHandshake client("whatever-key-0123456789", purpose);
    SessionStep step = session.OnFrame(Decode(client.Hello()), f.now);
    EXPECT_EQ(step.event, SessionEvent::kOff);
    EXPECT_EQ(Decode(step.reply).type, FrameType::kError);
  }
  // Replication falls back to the admin key when it has none of its own.
  Fixture g;
  g.keys.replica_key.clear();
  ServerSession fallback(g.keys, g.throttle, "10.0.0.4");
  EXPECT_TRUE(
      Handshake(fallback, kAdminKey, SessionPurpose::kReplication, g.now)
          .has_value());
}

TEST(ServerSessionTest, WrongKeyAllowsOneTryPerChallenge) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.5");
  ClientHandshake wrong("not-the-admin-key-0123456", SessionPurpose::kAdmin);
  SessionStep hello = session.OnFrame(Decode(wrong.Hello()), f.now);
  // The server proves the key first: a client with another key sees that
  // and sends nothing.
  EXPECT_FALSE(wrong.Answer(Decode(hello.reply)).has_value());
  // A guesser answers anyway: refused, and the challenge is spent.
  SessionStep guess =
      session.OnFrame({FrameType::kAdminAuth, std::string(32, 'g')}, f.now);
  EXPECT_EQ(guess.event, SessionEvent::kWrongKey);
  EXPECT_EQ(session.state(), ServerSession::State::kAwaitingHello);
  ASSERT_TRUE(guess.log_refusals.has_value());  // the first line is due
  EXPECT_EQ(*guess.log_refusals, 1u);
}

TEST(ServerSessionTest, ThrottlesAnAddressAfterRepeatedWrongKeys) {
  Fixture f;
  for (size_t i = 0; i < AuthThrottle::kMaxFailures; ++i) {
    ServerSession session(f.keys, f.throttle, "10.0.0.6");
    ClientHandshake client(kAdminKey, SessionPurpose::kAdmin);
    session.OnFrame(Decode(client.Hello()), f.now);
    SessionStep step =
        session.OnFrame({FrameType::kAdminAuth, std::string(32, 'g')}, f.now);
    EXPECT_EQ(step.event, SessionEvent::kWrongKey);
  }
  // Now even the right key is refused from that address, without a check…
  ServerSession refused(f.keys, f.throttle, "10.0.0.6");
  SessionStep last;
  EXPECT_FALSE(
      Handshake(refused, kAdminKey, SessionPurpose::kAdmin, f.now, &last)
          .has_value());
  EXPECT_EQ(last.event, SessionEvent::kThrottled);
  // …while another address is not affected…
  ServerSession other(f.keys, f.throttle, "10.0.0.7");
  EXPECT_TRUE(
      Handshake(other, kAdminKey, SessionPurpose::kAdmin, f.now).has_value());
  // …and once the window has passed, the address may try again.
  ServerSession later(f.keys, f.throttle, "10.0.0.6");
  EXPECT_TRUE(Handshake(later, kAdminKey, SessionPurpose::kAdmin,
                        f.now + AuthThrottle::kWindow + 1s)
                  .has_value());
}

TEST(ServerSessionTest, ABadMacClosesTheSessionForGood) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.8");
  auto client = Handshake(session, kAdminKey, SessionPurpose::kAdmin, f.now);
  ASSERT_TRUE(client.has_value());
  Frame frame = Decode(client->Seal(
      FrameType::kAdminCommand, EncodeAdminCommand({{"root", "list"}, ""})));
  ASSERT_TRUE(session.OnFrame(frame, f.now).request.has_value());
  // The same frame again (a replay) no longer matches its sequence.
  SessionStep replay = session.OnFrame(frame, f.now);
  EXPECT_TRUE(replay.close);
  EXPECT_EQ(replay.event, SessionEvent::kBadMac);
  EXPECT_TRUE(replay.reply.empty());
  EXPECT_EQ(session.state(), ServerSession::State::kClosed);
  // Nothing after it is read.
  Frame next = Decode(client->Seal(FrameType::kAdminCommand,
                                   EncodeAdminCommand({{"root", "list"}, ""})));
  EXPECT_TRUE(session.OnFrame(next, f.now).close);
}

TEST(ServerSessionTest, AnUnsealedFrameAfterAuthenticationCloses) {
  Fixture f;
  ServerSession session(f.keys, f.throttle, "10.0.0.9");
  ASSERT_TRUE(
      Handshake(session, kAdminKey, SessionPurpose::kAdmin, f.now).has_value());
  // Once authenticated, even a referral request must carry its MAC.
  Frame referral{FrameType::kReferralRequest, "plain"};
  EXPECT_TRUE(session.Claims(referral));
  EXPECT_TRUE(session.OnFrame(referral, f.now).close);
}

TEST(AuthThrottleTest, LogsAtMostOneLinePerInterval) {
  AuthThrottle throttle;
  const auto t0 = SessionClock::now();
  EXPECT_EQ(throttle.NoteRefusal(t0), std::optional<uint64_t>(1));
  EXPECT_FALSE(throttle.NoteRefusal(t0 + 1s).has_value());
  EXPECT_FALSE(throttle.NoteRefusal(t0 + 2s).has_value());
  EXPECT_EQ(throttle.NoteRefusal(t0 + AuthThrottle::kLogInterval),
            std::optional<uint64_t>(3));
}

TEST(AuthThrottleTest, StaysBoundedUnderManyAddresses) {
  AuthThrottle throttle;
  const auto t0 = SessionClock::now();
  for (size_t i = 0; i < AuthThrottle::kMaxTrackedAddresses; ++i) {
    throttle.RecordFailure("a" + std::to_string(i), t0);
  }
  // Later failures forget the addresses whose window has passed.
  throttle.RecordFailure("late", t0 + AuthThrottle::kWindow + 1s);
  EXPECT_EQ(throttle.tracked_addresses(), 1u);
  EXPECT_FALSE(throttle.Refuses("a1", t0 + AuthThrottle::kWindow + 1s));
}

}  // namespace
}  // namespace dfs::referral
