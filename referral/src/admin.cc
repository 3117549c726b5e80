#include "dfs/referral/admin.h"

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"

namespace dfs::referral {

std::string EncodeAdminCommand(const AdminCommand& command) {
  ByteWriter w;
  w.U32(static_cast<uint32_t>(command.args.size()));
  for (const auto& a : command.args) w.String(a);
  w.String(command.upload);
  return w.Take();
}

Result<AdminCommand> DecodeAdminCommand(std::string_view bytes) {
  ByteReader r(bytes);
  AdminCommand c;
  DFS_ASSIGN_OR_RETURN(uint32_t n, r.U32("argument count"));
  if (n > kMaxAdminArgs) {
    return Fail(Errc::kLimitExceeded, std::to_string(n) +
                                          " arguments; the limit is " +
                                          std::to_string(kMaxAdminArgs));
  }
  for (uint32_t i = 0; i < n; ++i) {
    DFS_ASSIGN_OR_RETURN(std::string a,
                         r.String("argument", kMaxAdminArgBytes));
    c.args.push_back(std::move(a));
  }
  DFS_ASSIGN_OR_RETURN(c.upload, r.String("upload", kMaxAdminUploadBytes));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("admin command"));
  return c;
}

std::string EncodeAdminResult(const AdminResult& result) {
  ByteWriter w;
  w.U32(result.exit_code);
  w.String(result.out);
  w.String(result.err);
  return w.Take();
}

Result<AdminResult> DecodeAdminResult(std::string_view bytes) {
  ByteReader r(bytes);
  AdminResult result;
  DFS_ASSIGN_OR_RETURN(result.exit_code, r.U32("exit code"));
  DFS_ASSIGN_OR_RETURN(result.out, r.String("output", kMaxAdminOutputBytes));
  DFS_ASSIGN_OR_RETURN(result.err, r.String("errors", kMaxAdminOutputBytes));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("admin result"));
  return result;
}

}  // namespace dfs::referral
