// dfsutil root export / root import {set|merge|compare}.
#pragma once

#include <ostream>
#include <string>

#include "dfs/common/result.h"

namespace dfs::tools {

struct ExportRequest {
  std::string store_dir;
  std::string root;
  std::string file;  // "-" writes to standard output
  bool downlevel = false;
  bool json = false;
};

enum class ImportMode { kSet, kMerge, kCompare };

struct ImportRequest {
  std::string store_dir;
  ImportMode mode = ImportMode::kCompare;
  std::string file;
  std::string root;
  bool create = false;     // set/merge: create the root when missing
  bool backup = true;      // set: export what it replaces first
  std::string backup_dir;  // default: <store>/backups
  bool json = false;
};

// Both print their report; the int is the exit code (compare: 0 equal,
// 1 different).
Result<int> RunExport(const ExportRequest& request, std::ostream& out);
// Warnings about the file go to `err`.
Result<int> RunImport(const ImportRequest& request, std::ostream& out,
                      std::ostream& err);

}  // namespace dfs::tools
