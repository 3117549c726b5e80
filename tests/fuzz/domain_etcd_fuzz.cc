// Fuzz target: what dfsd and dfsutil read from etcd (range, txn, lease and
// auth answers, the watch stream fed in two pieces) and the records they
// stand for. Properties: no crash; every watch event and range record
// either becomes a mutation or is refused as kCorrupt.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/common/error.h"
#include "dfs/domain/etcd_json.h"
#include "dfs/domain/layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using namespace dfs::domain;
  auto check = [](const EtcdRecord& r) {
    auto m = MutationOf("/dfs/", r);
    if (!m && m.error().code != dfs::make_error_code(dfs::Errc::kCorrupt)) {
      std::abort();
    }
  };
  if (auto range = ParseRangeResponse(bytes)) {
    for (const auto& r : range->records) check(r);
    dfs::ns::NamespaceIndex index;
    (void)LoadRecords("/dfs/", range->records, index);
  }
  (void)ParseTxnResponse(bytes);
  (void)ParseLeaseGrantResponse(bytes);
  (void)ParseAuthenticateResponse(bytes);
  WatchStream stream;
  const size_t half = size / 2;
  for (std::string_view piece : {bytes.substr(0, half), bytes.substr(half)}) {
    auto messages = stream.Feed(piece);
    if (!messages) break;
    for (const auto& m : *messages) {
      for (const auto& e : m.events) check(e);
      (void)ChangeOf("/dfs/", m.revision, m.events);
    }
  }
  return 0;
}
