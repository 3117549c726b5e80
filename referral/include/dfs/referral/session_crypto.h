// The cryptography of authenticated sessions (remote admin and
// replication): HMAC-SHA256 proofs of a shared key, the per-connection
// session key, the MAC on every later frame, and the client's side of the
// handshake. Pure (OpenSSL computes; nothing here does I/O): the server's
// side is the state machine of session.h; dfsutil and PeerLink drive
// ClientHandshake over their own sockets. Key files: referral_net/auth.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dfs/common/result.h"
#include "dfs/referral/framing.h"

namespace dfs::referral {

std::string NewNonce();
bool MacMatches(std::string_view expected, std::string_view got);
// ---- Authenticated sessions (remote admin and replication) ----
//
// Both sides prove the key, and every frame after the handshake carries a
// MAC (referral/FORMAT.md, "Authenticated sessions"):
//   client -> server  hello:     purpose (1 byte) + client nonce (32)
//   server -> client  challenge: server nonce (32) + ServerProof (32)
//   client -> server  auth:      ClientProof (32)
// A client that cannot check the server's proof talks to no one: a fake
// primary cannot feed a replica, nor a fake dfsd collect an admin's work.
// kContent: dfsrd members replicating files (the group key).
enum class SessionPurpose : uint8_t {
  kAdmin = 1,
  kReplication = 2,
  kContent = 3
};
inline constexpr size_t kSessionNonceBytes = 32;
inline constexpr size_t kFrameMacBytes = 32;

std::string ServerProof(std::string_view key, SessionPurpose purpose,
                        std::string_view client_nonce,
                        std::string_view server_nonce);
std::string ClientProof(std::string_view key, SessionPurpose purpose,
                        std::string_view client_nonce,
                        std::string_view server_nonce);
// The key every later frame's MAC is made with: fresh per connection.
std::string SessionKey(std::string_view key, SessionPurpose purpose,
                       std::string_view client_nonce,
                       std::string_view server_nonce);

// Frames after the handshake: the payload is followed by
// HMAC-SHA256(session key, direction || sequence || type || payload), the
// direction one byte ('C' client to server, 'S' back), the sequence a
// 64-bit big-endian count of frames sent that way. A frame changed,
// replayed, reordered, reflected back or cut loses its match.
// Thread-safety: one sealer belongs to one connection.
class FrameSealer {
 public:
  FrameSealer(std::string session_key, bool is_client);
  // The whole encoded frame (header, payload, MAC).
  std::string Seal(FrameType type, std::string_view payload);
  // The payload without its MAC. Errors: kCorrupt (too short for a MAC, or
  // the MAC does not match: the connection must be dropped).
  Result<std::string> Open(const Frame& frame);

 private:
  std::string key_;
  bool is_client_;
  uint64_t sent_ = 0, received_ = 0;
};

// The client's side of the handshake, without I/O (dfsutil's blocking
// client, PeerLink and tools drive it over their own sockets): the hello to
// send; the server's challenge checked (the server proves the key first)
// and answered; the server's acceptance turned into the sealer.
class ClientHandshake {
 public:
  ClientHandshake(std::string key, SessionPurpose purpose);
  // The hello frame, encoded.
  std::string Hello() const;
  // The auth frame to send for `challenge`. Errors: kPermissionDenied (the
  // server refused, or did not prove the key: send it nothing more),
  // kCorrupt (not a challenge).
  Result<std::string> Answer(const Frame& challenge);
  // The sealer for the session the server's `reply` to auth accepts.
  // Errors: kPermissionDenied (our key refused, or an unsealed answer).
  Result<FrameSealer> Accept(const Frame& reply) const;

 private:
  std::string key_;
  SessionPurpose purpose_;
  std::string client_nonce_, server_nonce_;
};

}  // namespace dfs::referral
