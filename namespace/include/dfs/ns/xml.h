// Namespace export and import in the XML format of Windows `dfsutil root
// export` (see namespace/FORMAT.md, "XML export"), in both of its dialects:
//
//  - kWindows2008 (the default): `<Target State="ONLINE"
//    PriorityClass="globalHigh" PriorityRank="0">\\server\share</Target>`
//  - kDownLevel (Windows Server 2003, dfsutil `/DownLevel`):
//    `<Target Server="S" Folder="share" State="2"/>`, numeric states.
//
// What neither dialect holds (failback per folder, comments, sites, the
// ordering method) goes into attributes in our own XML namespace
// (`dfs:...`), which Windows ignores, so export-then-import is exact.
// Reading accepts both dialects, UTF-8 with or without a BOM and UTF-16
// with a BOM, CRLF, and recovers (with a warning) from a bare `&`, a known
// Windows export bug. Malformed input fails with line and column.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/document.h"

namespace dfs::ns {

enum class XmlDialect { kWindows2008, kDownLevel };

// Writes `doc` as XML. Non-ASCII characters are written as character
// references, so the file is plain ASCII whatever reads it.
std::string ExportXml(const NamespaceDocument& doc, XmlDialect dialect);

inline constexpr size_t kMaxXmlBytes = size_t{1} << 30;

struct XmlImport {
  NamespaceDocument doc;              // folder paths normalised, all validated
  std::string root_path;              // the Root Name as the file gives it
  std::vector<std::string> warnings;  // "line L, column C: ..."
};

// Parses and validates a whole export. Errors (kInvalidArgument, or
// kLimitExceeded over kMaxXmlBytes) say "line L, column C: reason".
Result<XmlImport> ImportXml(std::string_view bytes);

}  // namespace dfs::ns
