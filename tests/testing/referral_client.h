// Asking a running dfsd for referrals over a TcpClient, as a web node
// would: one framed REQ_GET_DFS_REFERRAL, one reply frame.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dfs/referral/codec.h"
#include "dfs/referral/framing.h"
#include "testing/loopback.h"

namespace dfs::testing {

struct Answer {
  referral::FrameType type = referral::FrameType::kError;
  std::string payload;
};

// The next frame `client` receives.
inline std::optional<Answer> ReadAnswer(TcpClient& client) {
  auto header = client.Receive(referral::kFrameHeaderBytes);
  if (!header) return std::nullopt;
  const auto* h = reinterpret_cast<const uint8_t*>(header->data());
  const uint32_t n = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) |
                     (uint32_t{h[2]} << 8) | h[3];
  auto payload = client.Receive(n);
  if (!payload) return std::nullopt;
  return Answer{static_cast<referral::FrameType>(h[4]), *payload};
}

// Sends one referral request on `client` and reads the reply frame.
inline std::optional<Answer> Ask(TcpClient& client, const std::string& path,
                                 uint16_t level = 4) {
  if (!client.Send(
          referral::EncodeFrame(referral::FrameType::kReferralRequest,
                                referral::EncodeRequest({level, path})))) {
    return std::nullopt;
  }
  return ReadAnswer(client);
}

// The targets of a referral answer, in order.
inline std::vector<std::string> Targets(const Answer& a) {
  std::vector<std::string> out;
  auto d = referral::DecodeResponse(a.payload);
  if (!d) return out;
  for (const auto& e : d->entries) out.push_back(e.network_address);
  return out;
}

}  // namespace dfs::testing
