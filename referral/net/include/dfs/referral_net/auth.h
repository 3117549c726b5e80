// Reading the shared key of authenticated sessions from its file (the
// session cryptography itself is pure: referral/session_crypto.h).
#pragma once

#include <string>
#include <string_view>

#include "dfs/common/result.h"
#include "dfs/referral/session_crypto.h"

namespace dfs::referral_net {

inline constexpr size_t kMinAdminKeyBytes = 16;
// A key must use at least this many different byte values: sixteen
// spaces, or "aaaaaaaaaaaaaaaa", are not keys.
inline constexpr size_t kMinAdminKeyDistinctBytes = 8;
// A key file is small; anything larger (or not a regular file, such as
// /dev/zero) is refused before it is read.
inline constexpr size_t kMaxAdminKeyFileBytes = 4096;

// The key file's bytes, surrounding white space dropped. Refused, as ssh
// refuses a private key: a file that is not a regular file, is larger than
// kMaxAdminKeyFileBytes, or that group or others may read or write (mode
// & 077: chmod 600 it); a key shorter than kMinAdminKeyBytes or with fewer
// than kMinAdminKeyDistinctBytes different bytes. Errors: kNotFound,
// kInvalidArgument (saying which rule).
Result<std::string> ReadAdminKey(const std::string& path);
// The trimmed text of a secret file: a regular file of at most
// kMaxAdminKeyFileBytes that only its owner may read.
// Errors: kNotFound, kInvalidArgument (saying why).
Result<std::string> ReadOwnerOnlyFile(const std::string& path);
// A password (etcd's): as ReadOwnerOnlyFile, and not empty.
Result<std::string> ReadPasswordFile(const std::string& path);

}  // namespace dfs::referral_net
