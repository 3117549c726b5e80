// How dfsclient shows a resolution and the cache: text for people, JSON
// for scripts. Shared by the commands and the mount's control socket (its
// replies are these JSON forms).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfs/client/client.h"

namespace dfs::tools {

nlohmann::json ResolutionJson(const client::Resolution& r);
// The cache as `dfsclient --json pktinfo` prints it: an array of
// ResolutionJson objects, each with its lookup "key".
nlohmann::json CacheJson(const std::vector<client::CacheEntryView>& entries);
// The text form of `pktinfo`, read back from CacheJson.
std::string CacheText(const nlohmann::json& cache);

}  // namespace dfs::tools
