// Fuzz target: delta files and delta records (what a receiver applies from
// a sender) against a small basis of 64 chunks: every op stays inside the
// basis and the declared limits, nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dfs/repl/delta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  constexpr uint64_t kBasisChunks = 64;
  uint64_t produced = 0;
  uint64_t basis_chunks = kBasisChunks;  // what the decoder was told
  auto apply = [&](const dfs::repl::DeltaOp& op) -> dfs::Status {
    if (op.kind == dfs::repl::DeltaOp::kCopy) {
      if (op.count == 0 || op.first >= basis_chunks ||
          op.count > basis_chunks - op.first) {
        std::abort();
      }
      produced += op.count;
    } else {
      if (op.literal.empty() || op.literal.size() > dfs::repl::kMaxLiteralBytes)
        std::abort();
      produced += op.literal.size();
    }
    return dfs::Status::Ok();
  };
  (void)dfs::repl::DecodeRecords(bytes, kBasisChunks, apply);
  if (auto file = dfs::repl::SplitDeltaFile(bytes)) {
    basis_chunks = file->header.basis_chunks;
    (void)dfs::repl::DecodeRecords(file->records, basis_chunks, apply);
  }
  return 0;
}
