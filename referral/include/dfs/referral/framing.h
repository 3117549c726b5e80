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
  // Replication between namespace servers (replication.h).
  kChangesRequest = 4,
  kChangesReply = 5,
  kSnapshotRequest = 6,
  kSnapshotReply = 7,
  // Remote administration (admin.h).
  kAdminHello = 8,      // client: empty
  kAdminChallenge = 9,  // server: 32-byte nonce
  kAdminAuth = 10,      // client: HMAC-SHA256(key, context || nonce)
  kAdminCommand = 11,   // client, once authenticated: AdminCommand
  kAdminResult = 12,    // server: AdminResult
  // Content replication between dfsrd members (repl/index.h, repl/sync.h),
  // only inside a session of purpose kContent.
  kReplIndexRequest = 13,  // IndexRequest
  kReplIndexReply = 14,    // packed IndexReply
  kReplFileRequest = 15,   // FileRequest; the sync exchange follows
  kReplSync = 16,          // one sync message: u8 type, then its payload
  kReplBatchRequest = 17,  // packed BatchRequest
  kReplBatchReply = 18,    // packed BatchReply
};
inline constexpr uint8_t kMaxFrameType = 18;
// What a replica accepts from its primary: a snapshot of a large
// namespace is far bigger than any referral.
inline constexpr size_t kMaxReplicationFrameBytes = size_t{512} << 20;

struct Frame {
  FrameType type;
  std::string payload;
  bool operator==(const Frame&) const = default;
};

std::string EncodeFrame(FrameType type, std::string_view payload);
// The 5 bytes before a payload of `payload_bytes` (for writers that send
// the payload from where it lies).
std::string EncodeFrameHeader(FrameType type, size_t payload_bytes);
// A header read on its own (blocking readers). Errors: kLimitExceeded (a
// length over `max_payload`), kCorrupt (an unknown type, not 5 bytes).
Result<std::pair<FrameType, size_t>> DecodeFrameHeader(std::string_view header,
                                                       size_t max_payload);

// NTSTATUS values dfsd puts in error frames.
inline constexpr uint32_t kStatusInvalidParameter = 0xC000000D;
inline constexpr uint32_t kStatusAccessDenied = 0xC0000022;
inline constexpr uint32_t kStatusNotSupported = 0xC00000BB;
inline constexpr uint32_t kStatusNotFound = 0xC0000225;
inline constexpr size_t kMaxErrorMessageBytes = 1024;

struct ErrorReply {
  uint32_t status = 0;
  std::string message;
};
// A whole error frame: status (little-endian) then the message, cut at
// kMaxErrorMessageBytes.
std::string EncodeErrorFrame(uint32_t status, std::string_view message);
// The payload alone (for frames that carry a MAC after it).
std::string EncodeErrorPayload(const ErrorReply& reply);
// Reads an error frame's payload; a payload too short for a status reads
// as status 0 with the bytes as the message.
ErrorReply DecodeErrorPayload(std::string_view payload);

class Framer {
 public:
  explicit Framer(size_t max_payload = kMaxFramePayloadBytes)
      : max_payload_(max_payload) {}
  // Errors: kLimitExceeded (a length over the Framer's limit),
  // kCorrupt (an unknown type). Nothing is buffered beyond one frame.
  Result<std::vector<Frame>> Feed(std::string_view bytes);
  size_t buffered() const { return buffer_.size(); }
  // Raises (or lowers) the limit for frames not yet read, e.g. once a
  // connection has authenticated.
  void set_max_payload(size_t max_payload) { max_payload_ = max_payload; }

 private:
  size_t max_payload_;
  std::string buffer_;
  bool failed_ = false;
};

}  // namespace dfs::referral
