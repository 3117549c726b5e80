#include "xml_commands.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "dfs/common/atomic_file.h"
#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/document.h"
#include "dfs/ns/store.h"
#include "dfs/ns/xml.h"

namespace dfs::tools {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Fail(Errc::kNotFound,
                "cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string KindName(ns::FolderDiff::Kind k) {
  switch (k) {
    case ns::FolderDiff::Kind::kAdded:
      return "added";
    case ns::FolderDiff::Kind::kRemoved:
      return "removed";
    case ns::FolderDiff::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

struct Counts {
  size_t added = 0, removed = 0, changed = 0;
};

Counts Count(const ns::NamespaceDiff& diff) {
  Counts c;
  for (const auto& f : diff.folders) {
    if (f.kind == ns::FolderDiff::Kind::kAdded) ++c.added;
    if (f.kind == ns::FolderDiff::Kind::kRemoved) ++c.removed;
    if (f.kind == ns::FolderDiff::Kind::kChanged) ++c.changed;
  }
  return c;
}

json DiffJson(const ns::NamespaceDiff& diff) {
  json folders = json::array();
  for (const auto& f : diff.folders) {
    folders.push_back({{"change", KindName(f.kind)},
                       {"folder", f.path},
                       {"details", f.details}});
  }
  return {{"equal", diff.empty()},
          {"root", diff.root_changes},
          {"folders", folders}};
}

void PrintDiff(std::ostream& out_stream, const ns::NamespaceDiff& diff) {
  for (const auto& r : diff.root_changes) out_stream << "root: " << r << "\n";
  for (const auto& f : diff.folders) {
    switch (f.kind) {
      case ns::FolderDiff::Kind::kAdded:
        out_stream << "+ " << f.path << "  (only in the file)\n";
        break;
      case ns::FolderDiff::Kind::kRemoved:
        out_stream << "- " << f.path << "  (only in the store)\n";
        break;
      case ns::FolderDiff::Kind::kChanged:
        out_stream << "~ " << f.path << "\n";
        for (const auto& d : f.details) out_stream << "    " << d << "\n";
        break;
    }
  }
}

std::string BackupName(const ns::Root& root, uint64_t serial) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return root.host + "_" + root.name + "-serial" + std::to_string(serial) +
         "-" + stamp + ".xml";
}

}  // namespace

Result<int> RunExport(const ExportRequest& r, std::ostream& out_stream) {
  DFS_ASSIGN_OR_RETURN(auto store, ns::Store::Open(r.store_dir));
  DFS_ASSIGN_OR_RETURN(auto snapshot, store->Snapshot());
  DFS_ASSIGN_OR_RETURN(ns::NamespaceDocument doc,
                       ns::ReadDocument(*snapshot, r.root));
  const std::string xml =
      ns::ExportXml(doc, r.downlevel ? ns::XmlDialect::kDownLevel
                                     : ns::XmlDialect::kWindows2008);
  if (r.file == "-") {
    out_stream << xml;
    return 0;
  }
  DFS_RETURN_IF_ERROR(WriteFileAtomically(r.file, xml));
  if (r.json) {
    out_stream << json{{"ok", true},
                       {"root", doc.root.Path()},
                       {"file", r.file},
                       {"folders", doc.folders.size()},
                       {"serial", snapshot->Serial()},
                       {"bytes", xml.size()}}
                      .dump()
               << "\n";
  } else {
    out_stream << "exported " << doc.root.Path() << " (" << doc.folders.size()
               << " folders, serial " << snapshot->Serial() << ") to " << r.file
               << "\n";
  }
  return 0;
}

Result<int> RunImport(const ImportRequest& r, std::ostream& out_stream,
                      std::ostream& err_stream) {
  DFS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(r.file));
  auto parsed = ns::ImportXml(bytes);
  if (!parsed) {
    return Fail(Errc::kInvalidArgument,
                r.file + ": " + parsed.error().Message());
  }
  for (const auto& w : parsed->warnings) {
    err_stream << "dfsutil: warning: " << r.file << ": " << w << "\n";
  }
  DFS_ASSIGN_OR_RETURN(ns::NamespacePath target,
                       ns::ParseNamespacePath(r.root));
  if (!target.rest.empty()) {
    return Fail(Errc::kInvalidArgument,
                r.root + " is not a root (\\\\host\\root)");
  }

  if (r.mode == ImportMode::kCompare) {
    DFS_ASSIGN_OR_RETURN(auto store, ns::Store::Open(r.store_dir));
    DFS_ASSIGN_OR_RETURN(auto snapshot, store->Snapshot());
    DFS_RETURN_IF_ERROR(
        ns::CheckSameRoot(*snapshot, parsed->root_path, r.root));
    DFS_ASSIGN_OR_RETURN(ns::NamespaceDocument current,
                         ns::ReadDocument(*snapshot, r.root));
    ns::NamespaceDiff diff = ns::Diff(current, parsed->doc);
    if (r.json) {
      out_stream << DiffJson(diff).dump(2) << "\n";
    } else if (diff.empty()) {
      out_stream << "equal: " << current.root.Path() << " matches " << r.file
                 << "\n";
    } else {
      PrintDiff(out_stream, diff);
      out_stream << diff.root_changes.size() + diff.folders.size()
                 << " differences\n";
    }
    return diff.empty() ? 0 : 1;
  }

  ns::StoreOptions options;
  options.create_if_missing = r.create;
  DFS_ASSIGN_OR_RETURN(auto store, ns::Store::Open(r.store_dir, options));
  const bool set = r.mode == ImportMode::kSet;
  ns::NamespaceDiff diff;
  std::string backup_path;
  const std::string description = std::string("root import ") +
                                  (set ? "set " : "merge ") + r.file + " " +
                                  r.root;
  auto updated =
      store->Update(description, [&](ns::NamespaceWriter& w) -> Status {
        auto located = ns::Locate(w, r.root);
        if (!located &&
            located.error().code == make_error_code(Errc::kNotFound) &&
            r.create) {
          DFS_RETURN_IF_ERROR(ns::AddRoot(w, r.root));
          located = ns::Locate(w, r.root);
        }
        if (!located) {
          Error e = located.error();
          if (e.code == make_error_code(Errc::kNotFound)) {
            e.context += " (give --create to create it from the file)";
          }
          return e;
        }
        DFS_RETURN_IF_ERROR(ns::CheckSameRoot(w, parsed->root_path, r.root));
        DFS_ASSIGN_OR_RETURN(ns::NamespaceDocument current,
                             ns::ReadDocument(w, r.root));
        ns::NamespaceDocument desired =
            set ? parsed->doc : ns::Merge(current, parsed->doc);
        // The store keeps the names it knows the root by; the file brings
        // properties, servers and folders.
        desired.root.host = current.root.host;
        desired.root.name = current.root.name;
        if (!set) DFS_RETURN_IF_ERROR(ns::ValidateFolders(desired.folders));
        diff = ns::Diff(current, desired);
        if (set && r.backup && !diff.empty()) {
          fs::path dir = r.backup_dir.empty()
                             ? fs::path(r.store_dir) / "backups"
                             : fs::path(r.backup_dir);
          std::error_code ec;
          fs::create_directories(dir, ec);
          backup_path = (dir / BackupName(current.root, w.Serial())).string();
          DFS_RETURN_IF_ERROR(WriteFileAtomically(
              backup_path,
              ns::ExportXml(current, ns::XmlDialect::kWindows2008)));
        }
        return ns::ApplyDiff(w, located->root_key, desired.root, diff);
      });
  if (!updated) {
    // Nothing was replaced, so there is nothing to back up: a backup left
    // behind would look like a namespace that once was.
    if (!backup_path.empty()) {
      std::error_code ec;
      fs::remove(backup_path, ec);
    }
    return Unexpected(std::move(updated).error());
  }
  const uint64_t serial = *updated;
  Counts c = Count(diff);
  if (r.json) {
    json out = {{"ok", true},
                {"change", description},
                {"serial", serial},
                {"added", c.added},
                {"changed", c.changed},
                {"removed", c.removed},
                {"rootChanged", !diff.root_changes.empty()}};
    out["backup"] = backup_path.empty() ? json(nullptr) : json(backup_path);
    out_stream << out.dump() << "\n";
  } else {
    out_stream << "ok: " << description << " (serial " << serial
               << "): " << c.added << " added, " << c.changed << " changed, "
               << c.removed << " removed"
               << (diff.root_changes.empty() ? "" : ", root updated") << "\n";
    if (!backup_path.empty())
      out_stream << "backup of the replaced namespace: " << backup_path << "\n";
  }
  return 0;
}

}  // namespace dfs::tools
