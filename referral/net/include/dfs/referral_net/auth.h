// The shared-key proof of remote administration (referral/admin.h):
// HMAC-SHA256 with OpenSSL, fresh nonces, constant-time comparison, and
// reading a key file.
#pragma once

#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs::referral_net {

inline constexpr size_t kMinAdminKeyBytes = 16;
// A key must use at least this many different byte values: sixteen
// spaces, or "aaaaaaaaaaaaaaaa", are not keys.
inline constexpr size_t kMinAdminKeyDistinctBytes = 8;
// A key file is small; anything larger (or not a regular file, such as
// /dev/zero) is refused before it is read.
inline constexpr size_t kMaxAdminKeyFileBytes = 4096;

std::string NewNonce();
std::string AdminMac(std::string_view key, std::string_view nonce);
bool MacMatches(std::string_view expected, std::string_view got);
// The key file's bytes, surrounding white space dropped. Refused, as ssh
// refuses a private key: a file that is not a regular file, is larger than
// kMaxAdminKeyFileBytes, or that group or others may read or write (mode
// & 077: chmod 600 it); a key shorter than kMinAdminKeyBytes or with fewer
// than kMinAdminKeyDistinctBytes different bytes. Errors: kNotFound,
// kInvalidArgument (saying which rule).
Result<std::string> ReadAdminKey(const std::string& path);

}  // namespace dfs::referral_net
