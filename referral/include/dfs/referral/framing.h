// The TCP framing between dfs clients and dfsd (referral/FORMAT.md):
// each frame is a 4-byte big-endian payload length, a 1-byte type and the
// payload. The Framer is incremental: feed it whatever the socket gave and
// it returns the frames completed so far. After an error the connection
// must be dropped: resynchronising inside a byte stream is unsafe.
// Thread-safety: one Framer per connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::referral {

inline constexpr size_t kFrameHeaderBytes = 5;
// A referral response is at most 64 KiB; requests are far smaller.
inline constexpr size_t kMaxFramePayloadBytes = 0x10000;

enum class FrameType : uint8_t {
  kReferralRequest = 1,   // REQ_GET_DFS_REFERRAL
  kReferralResponse = 2,  // RESP_GET_DFS_REFERRAL
  kError = 3,             // u32 NTSTATUS, then a UTF-8 message
};

struct Frame {
  FrameType type;
  std::string payload;
  bool operator==(const Frame&) const = default;
};

std::string EncodeFrame(FrameType type, std::string_view payload);

class Framer {
 public:
  // Errors: kLimitExceeded (a length over kMaxFramePayloadBytes),
  // kCorrupt (an unknown type). Nothing is buffered beyond one frame.
  Result<std::vector<Frame>> Feed(std::string_view bytes);
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  bool failed_ = false;
};

}  // namespace dfs::referral
