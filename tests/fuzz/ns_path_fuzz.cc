// Fuzz target: path parsing and the index lookup, which take paths from
// clients over the network (#4). Properties: no crash; an accepted path
// never holds a `.` or `..` component or a forbidden character; parsing
// the normalised form gives the same folded form (normalisation is
// idempotent); lookups of accepted paths never fail.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/ns/admin.h"
#include "dfs/ns/index.h"
#include "dfs/ns/path.h"

namespace {

dfs::ns::NamespaceIndex& Index() {
  static dfs::ns::NamespaceIndex* index = [] {
    auto* ns = new dfs::ns::NamespaceIndex();
    (void)dfs::ns::AddRoot(*ns, "\\\\contoso\\webfarm");
    (void)dfs::ns::AddLink(*ns, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c");
    (void)dfs::ns::AddLink(*ns, "\\\\contoso\\webfarm\\a\\b", "\\\\web1\\c");
    return ns;
  }();
  return *index;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  dfs::ns::NormalizedPath p;
  if (dfs::ns::NormalizeUnc(input, 2, p).ok()) {
    for (size_t i = 0; i < p.count; ++i) {
      auto c = p.Display(i);
      if (c.empty() || c == "." || c == ".." ||
          c.find_first_of("\\/:*?\"<>|") != c.npos) {
        std::abort();
      }
    }
    dfs::ns::NormalizedPath again;
    if (!dfs::ns::NormalizeUnc(p.display, 2, again).ok() ||
        again.folded != p.folded) {
      std::abort();
    }
    dfs::ns::NormalizedPath scratch;
    if (!Index().FindLongestPrefix(input, scratch)) std::abort();
  }
  (void)dfs::ns::ParseNamespacePath(input);
  (void)dfs::ns::ParseTargetPath(input);
  return 0;
}
