#include "dfs/ns/document.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/path.h"

namespace dfs::ns {
namespace {

std::string DescribeTarget(const Target& t) {
  std::string s = t.Unc() + " (" + std::string(ToString(t.state)) + ", " +
                  std::string(ToString(t.priority_class)) + " rank " +
                  std::to_string(t.priority_rank);
  if (!t.site.empty()) s += ", site " + t.site;
  return s + ")";
}

// Sentences describing how target list `a` became `b`.
void DiffTargets(const std::vector<Target>& a, const std::vector<Target>& b,
                 std::string_view what, std::vector<std::string>& out) {
  std::map<std::string, const Target*> before, after;
  for (const auto& t : a) before[t.Key()] = &t;
  for (const auto& t : b) after[t.Key()] = &t;
  for (const auto& [key, t] : before) {
    auto it = after.find(key);
    if (it == after.end()) {
      out.push_back(std::string(what) + " removed: " + t->Unc());
    } else if (!(*it->second == *t)) {
      out.push_back(std::string(what) + " " + t->Unc() + ": " +
                    DescribeTarget(*t) + " -> " + DescribeTarget(*it->second));
    }
  }
  for (const auto& [key, t] : after) {
    if (!before.contains(key)) {
      out.push_back(std::string(what) + " added: " + DescribeTarget(*t));
    }
  }
  // Same set, other order: the order is what a referral falls back to
  // among equals, so it counts as a change.
  if (out.empty() && a.size() == b.size() && !(a == b)) {
    out.push_back(std::string(what) + " order changed");
  }
}

template <typename T>
void DiffField(std::vector<std::string>& out, std::string_view name,
               const T& before, const T& after) {
  if (before == after) return;
  out.push_back(std::string(name) + ": " + before + " -> " + after);
}

std::vector<std::string> DiffFolder(const Folder& a, const Folder& b) {
  std::vector<std::string> out;
  DiffField(out, "path", a.path, b.path);
  DiffField(out, "ttl", std::to_string(a.ttl_seconds),
            std::to_string(b.ttl_seconds));
  DiffField(out, "failback", std::string(ToString(a.failback)),
            std::string(ToString(b.failback)));
  DiffField(out, "state", std::string(ToString(a.state)),
            std::string(ToString(b.state)));
  DiffField(out, "comment", a.comment, b.comment);
  DiffTargets(a.targets, b.targets, "target", out);
  return out;
}

}  // namespace

Result<NamespaceDocument> ReadDocument(const NamespaceReader& reader,
                                       std::string_view root_path) {
  DFS_ASSIGN_OR_RETURN(Located at, Locate(reader, root_path));
  if (at.folder) {
    return Fail(Errc::kInvalidArgument,
                std::string(root_path) + " is a folder, not a root");
  }
  NamespaceDocument doc;
  doc.root = std::move(at.root);
  DFS_ASSIGN_OR_RETURN(doc.folders, reader.ListFolders(at.root_key));
  return doc;
}

Status CheckSameRoot(const NamespaceReader& reader, std::string_view file_root,
                     std::string_view target_root) {
  DFS_ASSIGN_OR_RETURN(NamespacePath a, ParseNamespacePath(file_root));
  DFS_ASSIGN_OR_RETURN(NamespacePath b, ParseNamespacePath(target_root));
  DFS_ASSIGN_OR_RETURN(std::string host_a, reader.CanonicalHost(a.folded_host));
  DFS_ASSIGN_OR_RETURN(std::string host_b, reader.CanonicalHost(b.folded_host));
  const std::string prefix = "the file describes " + a.Display() +
                             " but the command names " + b.Display() + ": ";
  if (host_a != host_b) {
    return Fail(Errc::kConflict,
                prefix + "hosts " + a.host + " and " + b.host +
                    " are different domains here (if they are one domain, "
                    "run 'dfsutil domain alias add " +
                    a.host + " " + b.host + "')");
  }
  if (a.folded_root != b.folded_root) {
    return Fail(Errc::kConflict,
                prefix + "root names " + a.root + " and " + b.root + " differ");
  }
  return Status::Ok();
}

Status ValidateFolders(const std::vector<Folder>& folders) {
  std::unordered_map<std::string, const Folder*> by_key;
  by_key.reserve(folders.size());
  // Validate each path by parsing it below a stand-in root.
  for (const auto& f : folders) {
    auto parsed = ParseNamespacePath("\\\\h\\r\\" + f.path);
    if (!parsed) {
      return Fail(Errc::kInvalidArgument,
                  "folder '" + f.path + "': " + parsed.error().Message());
    }
    if (parsed->rest.empty()) {
      return Fail(Errc::kInvalidArgument, "a folder has an empty name");
    }
    std::string key = parsed->RestFolded();
    auto [it, inserted] = by_key.emplace(key, &f);
    if (!inserted) {
      return Fail(Errc::kAlreadyExists, "folder '" + f.path +
                                            "' is listed twice (also as '" +
                                            it->second->path + "')");
    }
    if (f.targets.size() > kMaxTargetsPerFolder) {
      return Fail(Errc::kLimitExceeded,
                  "folder '" + f.path + "' has more than " +
                      std::to_string(kMaxTargetsPerFolder) + " targets");
    }
    std::unordered_set<std::string> seen;
    for (const auto& t : f.targets) {
      if (!seen.insert(t.Key()).second) {
        return Fail(
            Errc::kAlreadyExists,
            "folder '" + f.path + "' lists target " + t.Unc() + " twice");
      }
    }
  }
  for (const auto& [key, f] : by_key) {
    for (size_t sep = key.find('\\'); sep != key.npos;
         sep = key.find('\\', sep + 1)) {
      auto above = by_key.find(key.substr(0, sep));
      if (above != by_key.end()) {
        return Fail(Errc::kConflict,
                    "folder '" + f->path + "' lies inside folder '" +
                        above->second->path + "'; folders cannot nest");
      }
    }
  }
  return Status::Ok();
}

NamespaceDiff Diff(const NamespaceDocument& before,
                   const NamespaceDocument& after) {
  NamespaceDiff diff;
  const Root& a = before.root;
  const Root& b = after.root;
  DiffField(diff.root_changes, "ttl", std::to_string(a.ttl_seconds),
            std::to_string(b.ttl_seconds));
  DiffField(diff.root_changes, "failback",
            std::string(a.failback ? "on" : "off"),
            std::string(b.failback ? "on" : "off"));
  DiffField(diff.root_changes, "ordering", std::string(ToString(a.ordering)),
            std::string(ToString(b.ordering)));
  DiffField(diff.root_changes, "state", std::string(ToString(a.state)),
            std::string(ToString(b.state)));
  DiffField(diff.root_changes, "comment", a.comment, b.comment);
  DiffTargets(a.targets, b.targets, "namespace server", diff.root_changes);

  std::map<std::string, const Folder*> old_folders, new_folders;
  for (const auto& f : before.folders) old_folders[FoldCase(f.path)] = &f;
  for (const auto& f : after.folders) new_folders[FoldCase(f.path)] = &f;
  auto o = old_folders.begin();
  auto n = new_folders.begin();
  // Both maps are sorted by key: walk them together.
  while (o != old_folders.end() || n != new_folders.end()) {
    if (n == new_folders.end() ||
        (o != old_folders.end() && o->first < n->first)) {
      diff.folders.push_back(
          {FolderDiff::Kind::kRemoved, o->second->path, o->first, {}, {}});
      ++o;
    } else if (o == old_folders.end() || n->first < o->first) {
      diff.folders.push_back({FolderDiff::Kind::kAdded,
                              n->second->path,
                              n->first,
                              {},
                              *n->second});
      ++n;
    } else {
      auto details = DiffFolder(*o->second, *n->second);
      if (!details.empty()) {
        diff.folders.push_back({FolderDiff::Kind::kChanged, n->second->path,
                                n->first, std::move(details), *n->second});
      }
      ++o;
      ++n;
    }
  }
  return diff;
}

NamespaceDocument Merge(const NamespaceDocument& base,
                        const NamespaceDocument& incoming) {
  NamespaceDocument out;
  out.root = incoming.root;
  out.root.host = base.root.host;
  out.root.name = base.root.name;
  auto merge_targets = [](std::vector<Target> kept,
                          const std::vector<Target>& update) {
    for (const auto& t : update) {
      auto it = std::find_if(kept.begin(), kept.end(), [&](const Target& k) {
        return k.Key() == t.Key();
      });
      if (it == kept.end()) {
        kept.push_back(t);
      } else {
        *it = t;
      }
    }
    return kept;
  };
  out.root.targets = merge_targets(base.root.targets, incoming.root.targets);

  std::unordered_map<std::string, size_t> index;
  out.folders = base.folders;
  for (size_t i = 0; i < out.folders.size(); ++i) {
    index[FoldCase(out.folders[i].path)] = i;
  }
  for (const auto& f : incoming.folders) {
    auto it = index.find(FoldCase(f.path));
    if (it == index.end()) {
      out.folders.push_back(f);
    } else {
      Folder merged = f;
      merged.targets =
          merge_targets(out.folders[it->second].targets, f.targets);
      out.folders[it->second] = std::move(merged);
    }
  }
  return out;
}

Status ApplyDiff(NamespaceWriter& w, std::string_view root_key,
                 const Root& after_root, const NamespaceDiff& diff) {
  if (!diff.root_changes.empty()) {
    DFS_RETURN_IF_ERROR(w.Apply(PutRoot{std::string(root_key), after_root}));
  }
  for (const auto& f : diff.folders) {
    if (f.kind == FolderDiff::Kind::kRemoved) {
      DFS_RETURN_IF_ERROR(w.Apply(DeleteFolder{std::string(root_key), f.key}));
    } else {
      DFS_RETURN_IF_ERROR(
          w.Apply(PutFolder{std::string(root_key), f.key, *f.after}));
    }
  }
  return Status::Ok();
}

}  // namespace dfs::ns
