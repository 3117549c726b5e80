#include "dfs/referral/framing.h"

#include "dfs/common/error.h"

namespace dfs::referral {

std::string EncodeFrameHeader(FrameType type, size_t payload_bytes) {
  std::string out(kFrameHeaderBytes, '\0');
  const auto n = static_cast<uint32_t>(payload_bytes);
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  out[4] = static_cast<char>(type);
  return out;
}

Result<std::pair<FrameType, size_t>> DecodeFrameHeader(std::string_view header,
                                                       size_t max_payload) {
  if (header.size() != kFrameHeaderBytes) {
    return Fail(Errc::kCorrupt, "a frame header is 5 bytes");
  }
  const auto* h = reinterpret_cast<const uint8_t*>(header.data());
  const uint32_t n = (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) |
                     (uint32_t{h[2]} << 8) | h[3];
  if (n > max_payload) {
    return Fail(Errc::kLimitExceeded, "frame of " + std::to_string(n) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_payload));
  }
  if (h[4] < 1 || h[4] > kMaxFrameType) {
    return Fail(Errc::kCorrupt, "unknown frame type " + std::to_string(h[4]));
  }
  return std::pair{static_cast<FrameType>(h[4]), size_t{n}};
}

std::string EncodeFrame(FrameType type, std::string_view payload) {
  std::string out = EncodeFrameHeader(type, payload.size());
  out.append(payload);
  return out;
}

std::string EncodeErrorPayload(const ErrorReply& reply) {
  std::string payload(4, '\0');
  for (int i = 0; i < 4; ++i)
    payload[i] = static_cast<char>((reply.status >> (8 * i)) & 0xff);
  payload.append(
      std::string_view(reply.message).substr(0, kMaxErrorMessageBytes));
  return payload;
}

std::string EncodeErrorFrame(uint32_t status, std::string_view message) {
  return EncodeFrame(FrameType::kError,
                     EncodeErrorPayload({status, std::string(message)}));
}

ErrorReply DecodeErrorPayload(std::string_view payload) {
  if (payload.size() < 4) return ErrorReply{0, std::string(payload)};
  uint32_t status = 0;
  for (int i = 3; i >= 0; --i)
    status = (status << 8) | static_cast<uint8_t>(payload[i]);
  return ErrorReply{status,
                    std::string(payload.substr(4, kMaxErrorMessageBytes))};
}

Result<std::vector<Frame>> Framer::Feed(std::string_view bytes) {
  if (failed_) return Fail(Errc::kCorrupt, "the stream already failed");
  std::vector<Frame> frames;
  buffer_.append(bytes);
  size_t at = 0;
  while (buffer_.size() - at >= kFrameHeaderBytes) {
    // Checked before waiting for the payload, so a hostile length never
    // makes us buffer more than one frame.
    auto header = DecodeFrameHeader(
        std::string_view(buffer_).substr(at, kFrameHeaderBytes), max_payload_);
    if (!header) {
      failed_ = true;
      return Unexpected<Error>(std::move(header).error());
    }
    const auto [type, n] = *header;
    if (buffer_.size() - at - kFrameHeaderBytes < n) break;
    frames.push_back(Frame{type, buffer_.substr(at + kFrameHeaderBytes, n)});
    at += kFrameHeaderBytes + n;
  }
  buffer_.erase(0, at);
  return frames;
}

}  // namespace dfs::referral
