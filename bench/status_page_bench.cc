// What one refresh of dfsd's status page costs dfsd's io thread: the
// /api/namespace answer for namespaces of 1,000 and 100,000 folders (two
// targets each), as the page asks for it (a page of 500 folders; with a
// filter) and, for comparison, the whole namespace in one answer (what the
// page fetched before paging: 38 MB and 2.5 s at 100,000 folders).
// Counters: the answer's bytes.
#include <benchmark/benchmark.h>

#include <limits>
#include <map>
#include <memory>
#include <string>

#include "dfs/ns/admin.h"
#include "dfs/referral/status_page.h"

namespace {

using namespace dfs;

const ns::NamespaceIndex& IndexOf(size_t folders) {
  static std::map<size_t, std::unique_ptr<ns::NamespaceIndex>> built;
  auto& index = built[folders];
  if (!index) {
    index = std::make_unique<ns::NamespaceIndex>();
    (void)ns::AddRoot(*index, "\\\\contoso\\webfarm");
    for (size_t i = 0; i < folders; ++i) {
      const std::string n = std::to_string(i);
      const std::string path = "\\\\contoso\\webfarm\\Site" + n;
      (void)ns::AddLink(*index, path, "\\\\web1\\content\\Site" + n);
      (void)ns::AddTarget(*index, path, "\\\\web2\\content\\Site" + n);
    }
  }
  return *index;
}

void Answer(benchmark::State& state, const referral::NamespacePage& page) {
  const auto& index = IndexOf(static_cast<size_t>(state.range(0)));
  referral::HealthTable health;
  referral::SiteTable sites;
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string json = referral::NamespaceJson(index, sites, health, page);
    bytes = json.size();
    benchmark::DoNotOptimize(json.data());
  }
  state.counters["answer_bytes"] = static_cast<double>(bytes);
}

void BM_PageOf500(benchmark::State& state) { Answer(state, {}); }
void BM_LastPageOf500(benchmark::State& state) {
  Answer(state, {.offset = static_cast<size_t>(state.range(0)) - 500,
                 .limit = 500,
                 .filter = ""});
}
void BM_Filtered(benchmark::State& state) {
  Answer(state, {.offset = 0, .limit = 500, .filter = "site99"});
}
void BM_WholeNamespace(benchmark::State& state) {
  Answer(state, {.offset = 0,
                 .limit = std::numeric_limits<size_t>::max(),
                 .filter = ""});
}

BENCHMARK(BM_PageOf500)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LastPageOf500)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Filtered)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WholeNamespace)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
