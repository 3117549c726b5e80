// What a remote admin may ask dfsd to run: an allow-list of dfsutil
// commands, each with the options it may carry and how many positionals,
// checked word by word before anything runs. Anything not listed is
// refused: unknown options, `--opt=value` spellings (CLI11 would accept
// them and they slipped past the old deny-list), `--` separators, options
// that name server paths (`--raw`, `--backup-dir`, `--store`, `--server`).
// File positionals are pinned: an import reads only the client's upload
// (`@upload`), an export writes only to the reply (`-`).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::tools {

// The stand-in for an uploaded file in a remote command line.
inline constexpr const char* kUploadMarker = "@upload";

// OK when `args` (a dfsutil command line, optionally led by `--json`) is
// one the allow-list holds. Errors: kInvalidArgument naming the word.
Status CheckRemoteCommand(const std::vector<std::string>& args);

}  // namespace dfs::tools
