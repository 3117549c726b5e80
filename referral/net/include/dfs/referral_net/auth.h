// The shared-key proof of remote administration (referral/admin.h):
// HMAC-SHA256 with OpenSSL, fresh nonces, constant-time comparison, and
// reading a key file.
#pragma once

#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs::referral_net {

inline constexpr size_t kMinAdminKeyBytes = 16;

std::string NewNonce();
std::string AdminMac(std::string_view key, std::string_view nonce);
bool MacMatches(std::string_view expected, std::string_view got);
// The key file's bytes, trailing newline dropped. Errors: kNotFound, and
// kInvalidArgument for a key shorter than kMinAdminKeyBytes.
Result<std::string> ReadAdminKey(const std::string& path);

}  // namespace dfs::referral_net
