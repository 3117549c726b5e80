// Remote administration, both ends:
//  - the dfsutil side: `dfsutil --server IP:PORT --key FILE <command...>`
//    proves the key to a dfsd and has it run the command there (an
//    import's file is uploaded; an export comes back and is written here);
//  - the dfsd side: ExecuteRemoteCommand checks what a remote admin may do
//    and runs it against the server's store.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "dfs/referral/admin.h"

namespace dfs::tools {

// Whether the global options (before the command) include --server.
bool WantsRemote(const std::vector<std::string>& args);
int RunRemote(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// Refuses what would touch the server's files (export to a path, import
// from a path other than the upload, --raw, --backup-dir, --store).
referral::AdminResult ExecuteRemoteCommand(
    const referral::AdminCommand& command, const std::string& store_dir);

}  // namespace dfs::tools
