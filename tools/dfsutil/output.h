// Everything dfsutil prints, as text or (with --json) JSON: one place for
// the renderings of namespace objects, listings, changes and errors.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "dfs/common/error.h"
#include "dfs/ns/codec.h"
#include "dfs/ns/model.h"
#include "dfs/ns/namespace.h"
#include "dfs/referral/codec.h"
#include "dfs/referral/resolver.h"

namespace dfs::tools {

nlohmann::ordered_json ToJson(const ns::Target& target);
nlohmann::ordered_json ToJson(const ns::Root& root);
nlohmann::ordered_json ToJson(const ns::Root& root, const ns::Folder& folder);

// The root's properties and namespace servers, then every folder given.
void PrintTree(std::ostream& out, const ns::Root& root,
               const std::vector<ns::Folder>& folders);

// A command that failed: one line on `err`, and a JSON object on `out`
// with --json.
void RenderError(std::ostream& out, std::ostream& err, bool json,
                 const Error& error);
// A change made: its description and the store's new serial.
void RenderChange(std::ostream& out, bool json, const std::string& description,
                  uint64_t serial);
// `show`: a root with the folders given, at a serial.
void RenderShow(std::ostream& out, bool json, const ns::Root& root,
                uint64_t serial, const std::vector<ns::Folder>& folders);
struct RootListing {
  ns::Root root;
  size_t folders = 0;
};
void RenderRoots(std::ostream& out, bool json,
                 const std::vector<RootListing>& roots);
void RenderSites(std::ostream& out, bool json,
                 const std::vector<ns::PutSubnet>& subnets,
                 const std::vector<ns::PutSiteCost>& costs);
void RenderAliases(
    std::ostream& out, bool json,
    const std::vector<std::pair<std::string, std::string>>& aliases);
void RenderLog(std::ostream& out, bool json,
               const std::vector<ns::ChangeEntry>& entries);
// `store info`: its figures, in order.
void RenderStoreInfo(std::ostream& out, bool json,
                     const nlohmann::ordered_json& info);
// `diag referral` answered by the resolver over the store.
void RenderReferral(std::ostream& out, bool json, const std::string& path,
                    const referral::Referral& referral, int level, size_t bytes,
                    const std::string& raw_file);
// `diag referral --server`: a running dfsd's answer, decoded.
void RenderServerReferral(std::ostream& out, bool json,
                          const std::string& server,
                          const referral::DecodedResponse& response);

}  // namespace dfs::tools
