// Micro-benchmarks of the delta engine's per-byte work: chunking alone on
// one core (goal: >= 1.1 GB/s), chunking + XXH3-128 of every chunk (what a
// signature costs) on 1, 2 and 4 threads (wall-clock rate), and the
// whole-file hash.
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

// Argument: threads (1 = the per-core figure; more = segments chunked at
// once and stitched, same result).
void BM_ChunkAndHash(benchmark::State& state) {
  const auto& data = Data();
  const dfs::repl::ChunkParams params;
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto entries = dfs::repl::ChunkData(params, data, threads);
    benchmark::DoNotOptimize(entries.data());
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_ChunkAndHash)
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

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
