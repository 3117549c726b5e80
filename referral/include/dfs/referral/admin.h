// Remote administration messages (dfsutil --server ... --key FILE).
//
// Commands travel only inside an authenticated session (both sides prove
// the shared key, every frame carries a MAC: referral_net/auth.h); only
// then may the connection carry commands (and larger frames). The commands are
// dfsutil's own argument lists, run by the server against its store; an
// import's file travels as the upload. This authenticates; it does not
// encrypt (see referral/FORMAT.md). Pure codecs; fuzz target:
// tests/fuzz/referral_admin_fuzz.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::referral {

inline constexpr size_t kAdminNonceBytes = 32;
inline constexpr size_t kAdminMacBytes = 32;
inline constexpr size_t kMaxAdminArgs = 64;
inline constexpr size_t kMaxAdminArgBytes = 64 * 1024;
inline constexpr size_t kMaxAdminUploadBytes = size_t{256} << 20;
inline constexpr size_t kMaxAdminOutputBytes = size_t{256} << 20;

struct AdminCommand {
  std::vector<std::string> args;
  std::string upload;  // the file of `root import`, else empty
  bool operator==(const AdminCommand&) const = default;
};

struct AdminResult {
  uint32_t exit_code = 0;
  std::string out, err;
  bool operator==(const AdminResult&) const = default;
};

std::string EncodeAdminCommand(const AdminCommand& command);
Result<AdminCommand> DecodeAdminCommand(std::string_view bytes);
std::string EncodeAdminResult(const AdminResult& result);
Result<AdminResult> DecodeAdminResult(std::string_view bytes);

}  // namespace dfs::referral
