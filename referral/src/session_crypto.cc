#include "dfs/referral/session_crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "dfs/common/error.h"
#include "dfs/referral/admin.h"

namespace dfs::referral {

std::string NewNonce() {
  std::string nonce(kAdminNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                 static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("no randomness for an admin nonce");
  }
  return nonce;
}

namespace {

std::string Hmac(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string HandshakeMac(std::string_view label, std::string_view key,
                         SessionPurpose purpose, std::string_view client_nonce,
                         std::string_view server_nonce) {
  std::string message(label);
  message += static_cast<char>(purpose);
  message.append(client_nonce);
  message.append(server_nonce);
  return Hmac(key, message);
}

}  // namespace

std::string ServerProof(std::string_view key, SessionPurpose purpose,
                        std::string_view client_nonce,
                        std::string_view server_nonce) {
  return HandshakeMac("dfs-session-v2 server", key, purpose, client_nonce,
                      server_nonce);
}

std::string ClientProof(std::string_view key, SessionPurpose purpose,
                        std::string_view client_nonce,
                        std::string_view server_nonce) {
  return HandshakeMac("dfs-session-v2 client", key, purpose, client_nonce,
                      server_nonce);
}

std::string SessionKey(std::string_view key, SessionPurpose purpose,
                       std::string_view client_nonce,
                       std::string_view server_nonce) {
  return HandshakeMac("dfs-session-v2 key", key, purpose, client_nonce,
                      server_nonce);
}

FrameSealer::FrameSealer(std::string session_key, bool is_client)
    : key_(std::move(session_key)), is_client_(is_client) {}

namespace {

std::string FrameMac(std::string_view key, char direction, uint64_t seq,
                     FrameType type, std::string_view payload) {
  std::string message;
  message.reserve(10 + payload.size());
  message += direction;
  for (int shift = 56; shift >= 0; shift -= 8) {
    message += static_cast<char>((seq >> shift) & 0xff);
  }
  message += static_cast<char>(type);
  message.append(payload);
  return Hmac(key, message);
}

}  // namespace

std::string FrameSealer::Seal(FrameType type, std::string_view payload) {
  std::string body(payload);
  body += FrameMac(key_, is_client_ ? 'C' : 'S', sent_++, type, payload);
  return EncodeFrame(type, body);
}

Result<std::string> FrameSealer::Open(const Frame& frame) {
  if (frame.payload.size() < kFrameMacBytes) {
    return Fail(Errc::kCorrupt, "a frame without its MAC");
  }
  std::string_view body(frame.payload);
  const std::string_view payload = body.substr(0, body.size() - kFrameMacBytes);
  const std::string expected =
      FrameMac(key_, is_client_ ? 'S' : 'C', received_, frame.type, payload);
  if (!MacMatches(expected, body.substr(payload.size()))) {
    return Fail(Errc::kCorrupt,
                "a frame whose MAC does not match (changed, replayed or not "
                "from the authenticated peer)");
  }
  ++received_;
  return std::string(payload);
}

ClientHandshake::ClientHandshake(std::string key, SessionPurpose purpose)
    : key_(std::move(key)), purpose_(purpose), client_nonce_(NewNonce()) {}

std::string ClientHandshake::Hello() const {
  std::string payload(1, static_cast<char>(purpose_));
  payload += client_nonce_;
  return EncodeFrame(FrameType::kAdminHello, payload);
}

Result<std::string> ClientHandshake::Answer(const Frame& challenge) {
  if (challenge.type == FrameType::kError) {
    return Fail(Errc::kPermissionDenied,
                DecodeErrorPayload(challenge.payload).message);
  }
  if (challenge.type != FrameType::kAdminChallenge ||
      challenge.payload.size() != 2 * kSessionNonceBytes) {
    return Fail(Errc::kCorrupt, "the peer's challenge is malformed");
  }
  server_nonce_ = challenge.payload.substr(0, kSessionNonceBytes);
  if (!MacMatches(
          ServerProof(key_, purpose_, client_nonce_, server_nonce_),
          std::string_view(challenge.payload).substr(kSessionNonceBytes))) {
    return Fail(Errc::kPermissionDenied,
                "the peer did not prove it holds the key: nothing was sent");
  }
  return EncodeFrame(FrameType::kAdminAuth,
                     ClientProof(key_, purpose_, client_nonce_, server_nonce_));
}

Result<FrameSealer> ClientHandshake::Accept(const Frame& reply) const {
  FrameSealer sealer(SessionKey(key_, purpose_, client_nonce_, server_nonce_),
                     /*is_client=*/true);
  if (reply.type == FrameType::kAdminResult && sealer.Open(reply)) {
    return sealer;
  }
  // Before the session exists the server answers unsealed errors.
  return Fail(Errc::kPermissionDenied,
              reply.type == FrameType::kError
                  ? DecodeErrorPayload(reply.payload).message
                  : std::string("the peer sent an unsealed answer"));
}

bool MacMatches(std::string_view expected, std::string_view got) {
  return expected.size() == got.size() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

}  // namespace dfs::referral
