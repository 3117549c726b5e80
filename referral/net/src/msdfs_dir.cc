#include "msdfs_dir.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "dfs/common/error.h"

namespace dfs::referral_net {

namespace fs = std::filesystem;

namespace {

Error IoError(const fs::path& path, const std::string& what,
              const std::error_code& ec) {
  return Error{make_error_code(Errc::kIo),
               what + " " + path.string() + ": " + ec.message()};
}

// Our links below `dir`: relative path -> target.
Result<std::map<std::string, std::string>> ExistingLinks(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(
      dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Unexpected(IoError(dir, "cannot list", ec));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return Unexpected(IoError(dir, "cannot list", ec));
    if (!it->is_symlink(ec)) continue;
    const fs::path target = fs::read_symlink(it->path(), ec);
    if (ec) continue;
    if (target.native().rfind("msdfs:", 0) != 0) continue;
    out.emplace(fs::relative(it->path(), dir).generic_string(),
                target.native());
  }
  return out;
}

}  // namespace

Result<MsdfsSync> SyncMsdfsDirectory(
    const fs::path& dir, const std::vector<referral::MsdfsLink>& links) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unexpected(IoError(dir, "cannot create", ec));
  DFS_ASSIGN_OR_RETURN(auto existing, ExistingLinks(dir));
  MsdfsSync sync;
  std::set<std::string> wanted;
  for (const referral::MsdfsLink& link : links) {
    wanted.insert(link.path);
    auto it = existing.find(link.path);
    if (it != existing.end() && it->second == link.target) {
      ++sync.unchanged;
      continue;
    }
    const fs::path at = dir / link.path;
    fs::create_directories(at.parent_path(), ec);
    if (ec) return Unexpected(IoError(at.parent_path(), "cannot create", ec));
    const fs::path temp =
        at.parent_path() /
        (".dfs-new-" + at.filename().string() + "." + std::to_string(getpid()));
    fs::remove(temp, ec);
    if (symlink(link.target.c_str(), temp.c_str()) != 0) {
      return Unexpected(
          IoError(temp, "cannot link",
                  std::error_code(errno, std::generic_category())));
    }
    // rename(2) replaces the old link in one step.
    if (rename(temp.c_str(), at.c_str()) != 0) {
      const std::error_code rename_error(errno, std::generic_category());
      fs::remove(temp, ec);
      return Unexpected(IoError(at, "cannot replace", rename_error));
    }
    ++sync.written;
  }
  for (const auto& [path, target] : existing) {
    if (wanted.contains(path)) continue;
    fs::path at = dir / path;
    fs::remove(at, ec);
    if (ec) return Unexpected(IoError(at, "cannot remove", ec));
    ++sync.removed;
    // Directories the removed link leaves empty go too (never `dir`).
    for (fs::path parent = at.parent_path();
         parent != dir && parent.string().size() > dir.string().size();
         parent = parent.parent_path()) {
      if (!fs::is_empty(parent, ec) || ec) break;
      fs::remove(parent, ec);
    }
  }
  return sync;
}

}  // namespace dfs::referral_net
