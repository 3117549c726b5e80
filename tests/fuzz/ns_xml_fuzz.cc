// Fuzz target: the dfsutil XML importer (files come from other machines
// and other tools). Properties: no crash; whatever imports exports to XML
// that imports again to the same namespace.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/ns/xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto imported = dfs::ns::ImportXml(bytes);
  if (!imported) return 0;
  for (auto dialect :
       {dfs::ns::XmlDialect::kWindows2008, dfs::ns::XmlDialect::kDownLevel}) {
    auto again = dfs::ns::ImportXml(dfs::ns::ExportXml(imported->doc, dialect));
    if (!again || !dfs::ns::Diff(imported->doc, again->doc).empty() ||
        !(again->doc.root == imported->doc.root)) {
      std::abort();
    }
  }
  return 0;
}
