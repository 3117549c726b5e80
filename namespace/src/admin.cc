#include "dfs/ns/admin.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "dfs/common/error.h"

namespace dfs::ns {
namespace {

std::string JoinFolded(const std::vector<std::string>& parts, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '\\';
    out += parts[i];
  }
  return out;
}

// Names roots called `folded_root` under hosts other than `canonical`:
// the usual cause of a "missing" root is a NetBIOS/FQDN mix-up.
std::string OtherHostsHint(const NamespaceReader& reader,
                           std::string_view canonical,
                           std::string_view folded_root,
                           std::string_view asked_host) {
  auto roots = reader.ListRoots();
  if (!roots) return "";
  for (const auto& entry : *roots) {
    auto sep = entry.key.find('\\');
    if (entry.key.substr(sep + 1) == folded_root &&
        entry.key.substr(0, sep) != canonical) {
      return "; " + entry.root.Path() +
             " exists: if they are one domain, declare it with "
             "'dfsutil domain alias add " +
             entry.root.host + " " + std::string(asked_host) + "'";
    }
  }
  return "";
}

Result<Target> MakeTarget(std::string_view target_path,
                          const TargetOptions& options) {
  DFS_ASSIGN_OR_RETURN(TargetPath tp, ParseTargetPath(target_path));
  Target t;
  t.server = tp.server;
  t.share = tp.share;
  if (options.state) t.state = *options.state;
  if (options.priority_class) t.priority_class = *options.priority_class;
  if (options.priority_rank) {
    if (*options.priority_rank > kMaxPriorityRank) {
      return Fail(Errc::kInvalidArgument, "priority rank is above 31");
    }
    t.priority_rank = *options.priority_rank;
  }
  if (options.site) {
    DFS_RETURN_IF_ERROR(ValidateSiteName(*options.site));
    t.site = *options.site;
  }
  return t;
}

// The target in `targets` that `target_path` names, or an error.
Result<std::vector<Target>::iterator> FindTarget(std::vector<Target>& targets,
                                                 std::string_view target_path,
                                                 std::string_view owner) {
  DFS_ASSIGN_OR_RETURN(TargetPath tp, ParseTargetPath(target_path));
  auto it = std::find_if(targets.begin(), targets.end(),
                         [&](const Target& t) { return t.Key() == tp.folded; });
  if (it == targets.end()) {
    return Fail(Errc::kNotFound, "\\\\" + tp.server + "\\" + tp.share +
                                     " is not a target of " +
                                     std::string(owner));
  }
  return it;
}

std::string Describe(const Located& at) {
  return at.folder ? at.root.Path() + "\\" + at.folder->path : at.root.Path();
}

// Writes back the root or folder `at` describes after a property change.
Status Store(NamespaceWriter& w, const Located& at) {
  if (at.folder) {
    return w.Apply(PutFolder{at.root_key, *at.folder_key, *at.folder});
  }
  return w.Apply(PutRoot{at.root_key, at.root});
}

std::vector<Target>& TargetsOf(Located& at) {
  return at.folder ? at.folder->targets : at.root.targets;
}

}  // namespace

Status ValidateComment(std::string_view comment) {
  if (comment.size() > kMaxCommentBytes) {
    return Fail(Errc::kLimitExceeded,
                "comment is " + std::to_string(comment.size()) +
                    " bytes; the limit is " + std::to_string(kMaxCommentBytes));
  }
  if (!IsValidUtf8(comment)) {
    return Fail(Errc::kInvalidArgument, "comment is not valid UTF-8");
  }
  for (unsigned char c : comment) {
    if (c < 0x20 || c == 0x7f) {
      return Fail(Errc::kInvalidArgument, "comment holds a control character");
    }
  }
  return Status::Ok();
}

Status ValidateSiteName(std::string_view site) {
  if (site.empty()) return Status::Ok();
  if (site.size() > kMaxSiteNameBytes) {
    return Fail(Errc::kLimitExceeded, "site name is too long");
  }
  auto folded = ParseHostName(site);
  if (!folded) {
    return Fail(Errc::kInvalidArgument,
                "site name '" + std::string(site) +
                    "' may hold only letters, digits, '-', '_' and '.'");
  }
  return Status::Ok();
}

Result<Located> LocateRoot(const NamespaceReader& reader,
                           const NamespacePath& path) {
  DFS_ASSIGN_OR_RETURN(std::string canonical,
                       reader.CanonicalHost(path.folded_host));
  Located at;
  at.root_key = MakeRootKey(canonical, path.folded_root);
  DFS_ASSIGN_OR_RETURN(std::optional<Root> root, reader.GetRoot(at.root_key));
  if (!root) {
    return Fail(
        Errc::kNotFound,
        "no namespace root \\\\" + path.host + "\\" + path.root +
            OtherHostsHint(reader, canonical, path.folded_root, path.host));
  }
  at.root = std::move(*root);
  return at;
}

Result<Located> Locate(const NamespaceReader& reader, std::string_view path) {
  DFS_ASSIGN_OR_RETURN(NamespacePath np, ParseNamespacePath(path));
  DFS_ASSIGN_OR_RETURN(Located at, LocateRoot(reader, np));
  if (np.rest.empty()) return at;
  std::string key = np.RestFolded();
  DFS_ASSIGN_OR_RETURN(std::optional<Folder> folder,
                       reader.GetFolder(at.root_key, key));
  if (!folder) {
    return Fail(Errc::kNotFound,
                "no folder " + np.RestDisplay() + " in " + at.root.Path());
  }
  at.folder_key = std::move(key);
  at.folder = std::move(*folder);
  return at;
}

Status AddRoot(NamespaceWriter& w, std::string_view path,
               const RootOptions& options) {
  DFS_ASSIGN_OR_RETURN(NamespacePath np, ParseNamespacePath(path));
  if (!np.rest.empty()) {
    return Fail(Errc::kInvalidArgument, "a root is \\\\host\\name; " +
                                            np.Display() +
                                            " has components below the root");
  }
  DFS_ASSIGN_OR_RETURN(std::string canonical, w.CanonicalHost(np.folded_host));
  std::string key = MakeRootKey(canonical, np.folded_root);
  DFS_ASSIGN_OR_RETURN(std::optional<Root> existing, w.GetRoot(key));
  if (existing) {
    return Fail(Errc::kAlreadyExists,
                "namespace root " + existing->Path() + " already exists");
  }
  Root root;
  root.host = np.host;
  root.name = np.root;
  if (options.ttl_seconds) root.ttl_seconds = *options.ttl_seconds;
  if (options.comment) {
    DFS_RETURN_IF_ERROR(ValidateComment(*options.comment));
    root.comment = *options.comment;
  }
  return w.Apply(PutRoot{key, root});
}

Status RemoveRoot(NamespaceWriter& w, std::string_view path) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  if (at.folder) {
    return Fail(Errc::kInvalidArgument,
                Describe(at) + " is a folder; use 'link remove'");
  }
  return w.Apply(DeleteRoot{at.root_key});
}

Status AddLink(NamespaceWriter& w, std::string_view path,
               std::string_view target, const TargetOptions& options) {
  DFS_ASSIGN_OR_RETURN(NamespacePath np, ParseNamespacePath(path));
  if (np.rest.empty()) {
    return Fail(Errc::kInvalidArgument,
                np.Display() +
                    " is a root; a folder lies below it "
                    "(\\\\host\\root\\folder)");
  }
  DFS_ASSIGN_OR_RETURN(Located at, LocateRoot(w, np));
  const std::string key = np.RestFolded();
  DFS_ASSIGN_OR_RETURN(std::optional<Folder> existing,
                       w.GetFolder(at.root_key, key));
  if (existing) {
    return Fail(Errc::kAlreadyExists,
                "folder " + at.root.Path() + "\\" + existing->path +
                    " already exists; add targets with 'target add'");
  }
  for (size_t n = 1; n < np.folded_rest.size(); ++n) {
    DFS_ASSIGN_OR_RETURN(
        std::optional<Folder> above,
        w.GetFolder(at.root_key, JoinFolded(np.folded_rest, n)));
    if (above) {
      return Fail(Errc::kConflict,
                  at.root.Path() + "\\" + above->path +
                      " is a folder; folders cannot lie inside folders");
    }
  }
  DFS_ASSIGN_OR_RETURN(bool below, w.HasFolderBelow(at.root_key, key));
  if (below) {
    return Fail(Errc::kConflict,
                np.Display() +
                    " has folders below it; folders cannot lie inside folders");
  }
  DFS_ASSIGN_OR_RETURN(Target t, MakeTarget(target, options));
  Folder folder;
  folder.path = np.RestDisplay();
  folder.targets.push_back(std::move(t));
  return w.Apply(PutFolder{at.root_key, key, std::move(folder)});
}

Status RemoveLink(NamespaceWriter& w, std::string_view path) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  if (!at.folder) {
    return Fail(Errc::kInvalidArgument,
                Describe(at) + " is a root; use 'root remove'");
  }
  return w.Apply(DeleteFolder{at.root_key, *at.folder_key});
}

Status AddTarget(NamespaceWriter& w, std::string_view path,
                 std::string_view target, const TargetOptions& options) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  DFS_ASSIGN_OR_RETURN(Target t, MakeTarget(target, options));
  auto& targets = TargetsOf(at);
  const std::string folded = t.Key();
  for (const auto& existing : targets) {
    if (existing.Key() == folded) {
      return Fail(Errc::kAlreadyExists,
                  existing.Unc() + " is already a target of " + Describe(at));
    }
  }
  if (targets.size() >= kMaxTargetsPerFolder) {
    return Fail(Errc::kLimitExceeded,
                Describe(at) + " already has the most targets allowed (" +
                    std::to_string(kMaxTargetsPerFolder) + ")");
  }
  targets.push_back(std::move(t));
  return Store(w, at);
}

Status RemoveTarget(NamespaceWriter& w, std::string_view path,
                    std::string_view target) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  auto& targets = TargetsOf(at);
  DFS_ASSIGN_OR_RETURN(auto it, FindTarget(targets, target, Describe(at)));
  if (at.folder && targets.size() == 1) {
    return Fail(Errc::kConflict, it->Unc() + " is the last target of " +
                                     Describe(at) +
                                     "; remove the folder with 'link remove'");
  }
  targets.erase(it);
  return Store(w, at);
}

Status SetTtl(NamespaceWriter& w, std::string_view path, uint32_t ttl_seconds) {
  if (ttl_seconds > kMaxTtlSeconds) {
    return Fail(Errc::kInvalidArgument, "TTL " + std::to_string(ttl_seconds) +
                                            " is above the limit " +
                                            std::to_string(kMaxTtlSeconds));
  }
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  (at.folder ? at.folder->ttl_seconds : at.root.ttl_seconds) = ttl_seconds;
  return Store(w, at);
}

Status SetFailback(NamespaceWriter& w, std::string_view path, Failback value) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  if (at.folder) {
    at.folder->failback = value;
  } else {
    if (value == Failback::kInherit) {
      return Fail(Errc::kInvalidArgument,
                  "a root has nothing to inherit failback from; use on or off");
    }
    at.root.failback = value == Failback::kOn;
  }
  return Store(w, at);
}

Status SetState(NamespaceWriter& w, std::string_view path,
                std::optional<std::string_view> target, State state) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  if (target) {
    DFS_ASSIGN_OR_RETURN(auto it,
                         FindTarget(TargetsOf(at), *target, Describe(at)));
    it->state = state;
  } else {
    (at.folder ? at.folder->state : at.root.state) = state;
  }
  return Store(w, at);
}

Status SetPriority(NamespaceWriter& w, std::string_view path,
                   std::string_view target, PriorityClass priority_class,
                   std::optional<uint8_t> rank) {
  if (rank && *rank > kMaxPriorityRank) {
    return Fail(
        Errc::kInvalidArgument,
        "priority rank " + std::to_string(*rank) + " is out of range (0-31)");
  }
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  DFS_ASSIGN_OR_RETURN(auto it,
                       FindTarget(TargetsOf(at), target, Describe(at)));
  it->priority_class = priority_class;
  if (rank) it->priority_rank = *rank;
  return Store(w, at);
}

Status SetOrdering(NamespaceWriter& w, std::string_view root_path,
                   OrderingMethod method) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, root_path));
  if (at.folder) {
    return Fail(Errc::kInvalidArgument,
                "the ordering method belongs to the root; " + Describe(at) +
                    " is a folder");
  }
  at.root.ordering = method;
  return Store(w, at);
}

Status SetComment(NamespaceWriter& w, std::string_view path,
                  std::string_view comment) {
  DFS_RETURN_IF_ERROR(ValidateComment(comment));
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  (at.folder ? at.folder->comment : at.root.comment) = std::string(comment);
  return Store(w, at);
}

Status SetSite(NamespaceWriter& w, std::string_view path,
               std::string_view target, std::string_view site) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(w, path));
  DFS_ASSIGN_OR_RETURN(auto it,
                       FindTarget(TargetsOf(at), target, Describe(at)));
  TargetOptions options;
  options.site = std::string(site);
  DFS_ASSIGN_OR_RETURN(Target checked, MakeTarget(it->Unc(), options));
  it->site = checked.site;
  return Store(w, at);
}

Status AddAlias(NamespaceWriter& w, std::string_view first,
                std::string_view second) {
  DFS_ASSIGN_OR_RETURN(std::string a, ParseHostName(first));
  DFS_ASSIGN_OR_RETURN(std::string b, ParseHostName(second));
  if (a == b) {
    return Fail(Errc::kInvalidArgument, "'" + std::string(first) + "' and '" +
                                            std::string(second) +
                                            "' are the same name");
  }
  DFS_ASSIGN_OR_RETURN(std::string ca, w.CanonicalHost(a));
  DFS_ASSIGN_OR_RETURN(std::string cb, w.CanonicalHost(b));
  if (ca == cb) return Status::Ok();  // already one domain

  DFS_ASSIGN_OR_RETURN(std::vector<RootEntry> roots, w.ListRoots());
  auto holds_roots = [&](const std::string& host) {
    return std::any_of(roots.begin(), roots.end(), [&](const RootEntry& e) {
      return e.key.compare(0, e.key.find('\\'), host) == 0;
    });
  };
  const bool a_roots = holds_roots(ca), b_roots = holds_roots(cb);
  if (a_roots && b_roots) {
    return Fail(Errc::kConflict,
                "both " + ca + " and " + cb +
                    " hold namespace roots; export and remove one side's "
                    "roots before declaring them one domain");
  }
  const std::string& canonical = a_roots ? ca : cb;
  const std::string& other = a_roots ? cb : ca;
  DFS_ASSIGN_OR_RETURN(auto aliases, w.ListAliases());
  DFS_RETURN_IF_ERROR(w.Apply(PutAlias{other, canonical}));
  for (const auto& [alias, target] : aliases) {
    if (target == other)
      DFS_RETURN_IF_ERROR(w.Apply(PutAlias{alias, canonical}));
  }
  return Status::Ok();
}

Status RemoveAlias(NamespaceWriter& w, std::string_view name) {
  DFS_ASSIGN_OR_RETURN(std::string folded, ParseHostName(name));
  DFS_ASSIGN_OR_RETURN(auto aliases, w.ListAliases());
  std::vector<std::string> pointing;
  for (const auto& [alias, target] : aliases) {
    if (alias == folded) return w.Apply(DeleteAlias{folded});
    if (target == folded) pointing.push_back(alias);
  }
  if (!pointing.empty()) {
    std::string list;
    for (const auto& p : pointing) list += (list.empty() ? "" : ", ") + p;
    return Fail(Errc::kConflict, folded + " is the canonical name of " + list +
                                     "; remove those aliases first");
  }
  return Fail(Errc::kNotFound, folded + " is not an alias");
}

}  // namespace dfs::ns

namespace dfs::ns {

Result<std::string> CanonicalCidr(std::string_view cidr) {
  const size_t slash = cidr.find('/');
  const std::string bad = "subnet '" + std::string(cidr.substr(0, 64)) + "'";
  if (slash == cidr.npos || cidr.size() > 64) {
    return Fail(Errc::kInvalidArgument, bad + " is not ADDRESS/PREFIX");
  }
  const std::string address(cidr.substr(0, slash));
  const std::string_view len = cidr.substr(slash + 1);
  int bits = -1;
  auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), bits);
  unsigned char bytes[16] = {};
  const bool v4 = inet_pton(AF_INET, address.c_str(), bytes) == 1;
  if (!v4 && inet_pton(AF_INET6, address.c_str(), bytes) != 1) {
    return Fail(Errc::kInvalidArgument, bad + " has no valid IP address");
  }
  const int max = v4 ? 32 : 128;
  if (ec != std::errc() || ptr != len.data() + len.size() || bits < 0 ||
      bits > max) {
    return Fail(Errc::kInvalidArgument,
                bad + " has a prefix length outside 0-" + std::to_string(max));
  }
  for (int i = 0; i < max / 8; ++i) {
    const int keep = std::clamp(bits - 8 * i, 0, 8);
    bytes[i] &= static_cast<unsigned char>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  char text[INET6_ADDRSTRLEN];
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes, text, sizeof text);
  return std::string(text) + "/" + std::to_string(bits);
}

Status AddSubnet(NamespaceWriter& w, std::string_view cidr,
                 std::string_view site) {
  DFS_ASSIGN_OR_RETURN(std::string canonical, CanonicalCidr(cidr));
  if (site.empty())
    return Fail(Errc::kInvalidArgument, "a subnet needs a site");
  DFS_RETURN_IF_ERROR(ValidateSiteName(site));
  return w.Apply(PutSubnet{canonical, std::string(site)});
}

Status RemoveSubnet(NamespaceWriter& w, std::string_view cidr) {
  DFS_ASSIGN_OR_RETURN(std::string canonical, CanonicalCidr(cidr));
  DFS_ASSIGN_OR_RETURN(auto subnets, w.ListSubnets());
  for (const auto& s : subnets) {
    if (s.cidr == canonical) return w.Apply(DeleteSubnet{canonical});
  }
  return Fail(Errc::kNotFound, "no subnet " + canonical);
}

Status SetSiteCost(NamespaceWriter& w, std::string_view site_a,
                   std::string_view site_b, uint32_t cost) {
  if (site_a.empty() || site_b.empty())
    return Fail(Errc::kInvalidArgument, "empty site name");
  DFS_RETURN_IF_ERROR(ValidateSiteName(site_a));
  DFS_RETURN_IF_ERROR(ValidateSiteName(site_b));
  if (cost > kMaxSiteCost)
    return Fail(Errc::kInvalidArgument, "site cost above 1,000,000");
  std::string a = FoldCase(site_a), b = FoldCase(site_b);
  if (a == b) return Fail(Errc::kInvalidArgument, "a site costs 0 to itself");
  if (b < a) std::swap(a, b);
  return w.Apply(PutSiteCost{a, b, cost});
}

}  // namespace dfs::ns
