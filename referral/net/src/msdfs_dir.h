// Keeps a Samba msdfs root directory equal to a list of links
// (referral/msdfs.h): a link whose target changed is replaced atomically
// (a new symlink beside it, then rename over it: Samba never sees a
// missing or half-written link), a link of a removed folder is removed
// with the directories left empty by it, and nothing else in the
// directory is touched (only symlinks whose target starts "msdfs:" are
// ours). Nested folder paths become directories.
// Thread-safety: one caller at a time per directory.
#pragma once

#include <filesystem>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/referral/msdfs.h"

namespace dfs::referral_net {

struct MsdfsSync {
  size_t written = 0, removed = 0, unchanged = 0;
};

// Errors: kIo (with the path and the system's reason).
Result<MsdfsSync> SyncMsdfsDirectory(
    const std::filesystem::path& dir,
    const std::vector<referral::MsdfsLink>& links);

}  // namespace dfs::referral_net
