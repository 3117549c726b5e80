// MS-DFSC messages: REQ_GET_DFS_REFERRAL and RESP_GET_DFS_REFERRAL with
// DFS_REFERRAL_V3 / V4 entries (NameListReferral = 0), and the framing that
// carries them over TCP (referral/FORMAT.md). Every decoder treats its
// input as hostile: each offset, length and count is checked against the
// message and a named limit. Fuzz targets: tests/fuzz/referral_*_fuzz.cc.
// Thread-safety: pure functions; a Framer belongs to one connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/referral/resolver.h"

namespace dfs::referral {

inline constexpr uint16_t kMinReferralLevel = 3;  // V1/V2 are not served
inline constexpr uint16_t kMaxReferralLevel = 4;
// Entry offsets are 16-bit, so a response cannot exceed this.
inline constexpr size_t kMaxResponseBytes = 0xFFFF;
inline constexpr size_t kMaxRequestPathUnits = 4096;
inline constexpr size_t kV3EntryBytes = 34;
inline constexpr size_t kHeaderBytes = 8;

// ReferralHeaderFlags.
inline constexpr uint32_t kReferralServers = 0x1;
inline constexpr uint32_t kStorageServers = 0x2;
inline constexpr uint32_t kTargetFailback = 0x4;
// ReferralEntryFlags.
inline constexpr uint16_t kNameListReferral = 0x2;
inline constexpr uint16_t kTargetSetBoundary = 0x4;

struct ReferralRequest {
  uint16_t max_referral_level = 4;
  std::string path;  // UTF-8
};

std::string EncodeRequest(const ReferralRequest& request);
// Errors: kCorrupt (odd length, no terminator, bad UTF-16), kLimitExceeded.
Result<ReferralRequest> DecodeRequest(std::string_view bytes);

// Encodes `referral` with entries of version min(max_level, 4). Fails with
// kUnsupported below version 3. Targets that would push the message past
// kMaxResponseBytes are left off (the first ones are what clients use).
Result<std::string> EncodeResponse(const Referral& referral,
                                   uint16_t max_level);

struct DecodedEntry {
  uint16_t version = 0;
  uint16_t server_type = 0;
  uint16_t flags = 0;
  uint32_t ttl = 0;
  std::string dfs_path, alternate_path, network_address;  // UTF-8
};

struct DecodedResponse {
  uint16_t path_consumed = 0;
  uint32_t header_flags = 0;
  std::vector<DecodedEntry> entries;
};

// Reads V3 and V4 entries (NameListReferral = 0). Errors: kCorrupt,
// kUnsupported (another entry version), kLimitExceeded.
Result<DecodedResponse> DecodeResponse(std::string_view bytes);

// UTF-8 <-> UTF-16LE for the wire.
std::string ToUtf16Le(std::string_view utf8);
Result<std::string> FromUtf16Le(std::string_view utf16le);

}  // namespace dfs::referral
