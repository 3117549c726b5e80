// The shared-key proof of remote administration (referral/admin.h):
// HMAC-SHA256 with OpenSSL, fresh nonces, constant-time comparison, and
// reading a key file.
#pragma once

#include <string>
#include <string_view>

#include "dfs/common/result.h"
#include "dfs/referral/framing.h"

namespace dfs::referral_net {

inline constexpr size_t kMinAdminKeyBytes = 16;
// A key must use at least this many different byte values: sixteen
// spaces, or "aaaaaaaaaaaaaaaa", are not keys.
inline constexpr size_t kMinAdminKeyDistinctBytes = 8;
// A key file is small; anything larger (or not a regular file, such as
// /dev/zero) is refused before it is read.
inline constexpr size_t kMaxAdminKeyFileBytes = 4096;

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
enum class SessionPurpose : uint8_t { kAdmin = 1, kReplication = 2 };
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
  std::string Seal(referral::FrameType type, std::string_view payload);
  // The payload without its MAC. Errors: kCorrupt (too short for a MAC, or
  // the MAC does not match: the connection must be dropped).
  Result<std::string> Open(const referral::Frame& frame);

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
  Result<std::string> Answer(const referral::Frame& challenge);
  // The sealer for the session the server's `reply` to auth accepts.
  // Errors: kPermissionDenied (our key refused, or an unsealed answer).
  Result<FrameSealer> Accept(const referral::Frame& reply) const;

 private:
  std::string key_;
  SessionPurpose purpose_;
  std::string client_nonce_, server_nonce_;
};

// The key file's bytes, surrounding white space dropped. Refused, as ssh
// refuses a private key: a file that is not a regular file, is larger than
// kMaxAdminKeyFileBytes, or that group or others may read or write (mode
// & 077: chmod 600 it); a key shorter than kMinAdminKeyBytes or with fewer
// than kMinAdminKeyDistinctBytes different bytes. Errors: kNotFound,
// kInvalidArgument (saying which rule).
Result<std::string> ReadAdminKey(const std::string& path);

}  // namespace dfs::referral_net
