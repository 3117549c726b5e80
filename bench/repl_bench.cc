// Micro-benchmarks of the delta engine's per-byte work on one core:
// chunking alone (goal: >= 1.1 GB/s), chunking + XXH3-128 of every chunk
// (what a signature costs), and the whole-file hash.
//   build/bin/repl_bench   (or bash bench/run.sh)
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "dfs/repl/chunker.h"
#include "dfs/repl/hash.h"
#include "dfs/repl/signature.h"

namespace {

const std::vector<uint8_t>& Data() {
  static const std::vector<uint8_t> data = [] {
    std::vector<uint8_t> d(256u << 20);
    std::mt19937_64 rng(42);
    for (size_t i = 0; i + 8 <= d.size(); i += 8) {
      const uint64_t v = rng();
      std::memcpy(d.data() + i, &v, 8);
    }
    return d;
  }();
  return data;
}

void BM_Chunk(benchmark::State& state) {
  const auto& data = Data();
  const dfs::repl::ChunkParams params;
  for (auto _ : state) {
    auto lengths = dfs::repl::ChunkLengths(params, data);
    benchmark::DoNotOptimize(lengths.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Chunk)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_ChunkAndHash(benchmark::State& state) {
  const auto& data = Data();
  const dfs::repl::ChunkParams params;
  for (auto _ : state) {
    auto entries = dfs::repl::ChunkData(params, data);
    benchmark::DoNotOptimize(entries.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_ChunkAndHash)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_WholeFileHash(benchmark::State& state) {
  const auto& data = Data();
  for (auto _ : state) {
    auto h = dfs::repl::HashBytes(data);
    benchmark::DoNotOptimize(h);
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_WholeFileHash)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
