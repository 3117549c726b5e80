// Fuzz target: REQ_GET_DFS_REFERRAL as a client sends it, then the
// resolver on whatever path decodes. Properties: no crash; a decoded
// request re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/ns/admin.h"
#include "dfs/referral/codec.h"

namespace {
dfs::ns::NamespaceIndex& Index() {
  static auto* index = [] {
    auto* ns = new dfs::ns::NamespaceIndex();
    (void)dfs::ns::AddRoot(*ns, "\\\\contoso\\webfarm");
    (void)dfs::ns::AddTarget(*ns, "\\\\contoso\\webfarm", "\\\\ns1\\webfarm");
    (void)dfs::ns::AddLink(*ns, "\\\\contoso\\webfarm\\Site1", "\\\\web1\\c");
    return ns;
  }();
  return *index;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = dfs::referral::DecodeRequest(bytes);
  if (!request) return 0;
  if (dfs::referral::EncodeRequest(*request) != bytes) std::abort();
  static dfs::referral::SiteTable sites;
  dfs::referral::Resolver resolver(Index(), sites, nullptr, 1);
  auto referral = resolver.Resolve(request->path, {});
  if (referral) {
    auto response =
        dfs::referral::EncodeResponse(*referral, request->max_referral_level);
    if (response && !dfs::referral::DecodeResponse(*response)) std::abort();
  }
  return 0;
}
