// A whole root as one value (its properties, namespace servers and every
// folder), the differences between two of them, and applying a difference
// to a store: what export, import (set / merge / compare) and a future
// namespace copy are built from.
// Thread-safety: values and pure functions; ApplyDiff as its writer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/model.h"
#include "dfs/ns/namespace.h"

namespace dfs::ns {

struct NamespaceDocument {
  Root root;
  std::vector<Folder> folders;  // any order; keys are FoldCase(path)
};

// The root at `root_path` and all its folders, as one consistent read.
Result<NamespaceDocument> ReadDocument(const NamespaceReader& reader,
                                       std::string_view root_path);

// Checks that `file_root` (as an export names it) and `target_root` (as an
// admin names it) are the same root in `reader`'s namespace, through the
// domain aliases: \\OW\webfarm and \\orcsweb.com\webfarm match once OW
// and orcsweb.com are declared one domain. The error names what differs.
Status CheckSameRoot(const NamespaceReader& reader, std::string_view file_root,
                     std::string_view target_root);

// Checks what a store would refuse: folder paths that are not valid paths,
// two folders with one (case-folded) path, a folder inside another,
// targets listed twice or more than the per-folder limit. Errors name the
// folders by path.
Status ValidateFolders(const std::vector<Folder>& folders);

struct FolderDiff {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind;
  std::string path;                  // display path below the root
  std::string key;                   // folded
  std::vector<std::string> details;  // what changed, one sentence each
  std::optional<Folder> after;       // set for kAdded and kChanged
};

struct NamespaceDiff {
  std::vector<std::string> root_changes;  // root properties and servers
  std::vector<FolderDiff> folders;        // sorted by key
  bool empty() const { return root_changes.empty() && folders.empty(); }
};

// What turns `before` into `after`. Root display names are not compared:
// the same namespace may be written \\OW\webfarm or \\orcsweb.com\webfarm.
NamespaceDiff Diff(const NamespaceDocument& before,
                   const NamespaceDocument& after);

// `base` with `incoming` laid over it: root properties and every folder
// of `incoming` win, targets are added or updated but never removed, and
// folders only in `base` stay.
NamespaceDocument Merge(const NamespaceDocument& base,
                        const NamespaceDocument& incoming);

// Writes `diff` (computed against the writer's current state of the root
// `root_key`) with `after_root` as the root's new properties.
Status ApplyDiff(NamespaceWriter& w, std::string_view root_key,
                 const Root& after_root, const NamespaceDiff& diff);

}  // namespace dfs::ns
