#include "dfs/referral/msdfs.h"

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"

namespace dfs::referral {

namespace {

// What Samba's link parser splits on or cannot take in a name.
bool CarriesInLink(std::string_view s) {
  for (unsigned char c : s) {
    if (c == ',' || c < 0x20 || c == ':') return false;
  }
  return !s.empty();
}

}  // namespace

Result<MsdfsLinks> MsdfsLinksFor(const ns::NamespaceIndex& index,
                                 std::string_view root_path,
                                 const SiteTable& sites,
                                 const HealthFn& healthy) {
  DFS_ASSIGN_OR_RETURN(ns::Located at, ns::Locate(index, root_path));
  if (at.folder) {
    return Fail(Errc::kInvalidArgument,
                std::string(root_path) + " is a folder, not a namespace root");
  }
  DFS_ASSIGN_OR_RETURN(auto folders, index.ListFolders(at.root_key));
  MsdfsLinks out;
  for (const ns::Folder& folder : folders) {
    if (at.root.state != ns::State::kOnline ||
        folder.state != ns::State::kOnline) {
      out.skipped.push_back(folder.path + ": offline");
      continue;
    }
    if (folder.path.find('/') != std::string::npos ||
        folder.path.find(':') != std::string::npos) {
      out.skipped.push_back(folder.path +
                            ": a name a file system link "
                            "cannot carry");
      continue;
    }
    std::string target = "msdfs:";
    size_t count = 0;
    for (const OrderedTarget& o :
         DefaultSiteOrder(folder.targets, at.root.ordering, sites, healthy,
                          ns::FoldCase(folder.path))) {
      const std::string unc = o.target->server + "\\" + o.target->share;
      if (!CarriesInLink(o.target->server) || !CarriesInLink(o.target->share)) {
        out.skipped.push_back(folder.path + ": target \\\\" + unc +
                              " cannot be written in an msdfs link");
        continue;
      }
      if (count++ > 0) target += ',';
      target += unc;
    }
    if (count == 0) {
      out.skipped.push_back(folder.path + ": no online target");
      continue;
    }
    MsdfsLink link;
    link.path = folder.path;
    for (char& c : link.path) {
      if (c == '\\') c = '/';
    }
    link.target = std::move(target);
    out.links.push_back(std::move(link));
  }
  return out;
}

std::string SmbConfShare(std::string_view share,
                         const std::filesystem::path& dir) {
  return "[" + std::string(share) + "]\n" + "   path = " + dir.string() + "\n" +
         "   msdfs root = yes\n"
         "   read only = yes\n"
         "   guest ok = yes\n"
         "   # the links' order is dfsd's; Samba must not shuffle it\n"
         "   msdfs shuffle referrals = no\n";
}

}  // namespace dfs::referral
