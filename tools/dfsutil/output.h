// Text and JSON renderings of namespace objects for dfsutil.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <vector>

#include "dfs/ns/model.h"

namespace dfs::tools {

nlohmann::ordered_json ToJson(const ns::Target& target);
nlohmann::ordered_json ToJson(const ns::Root& root);
nlohmann::ordered_json ToJson(const ns::Root& root, const ns::Folder& folder);

// The root's properties and namespace servers, then every folder given.
void PrintTree(std::ostream& out, const ns::Root& root,
               const std::vector<ns::Folder>& folders);

}  // namespace dfs::tools
