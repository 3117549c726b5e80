// The hot path of the whole system: which root and folder does a path
// fall in? Issue #2's target: well under a microsecond in-process with
// 1,000,000 folders.
//
// For 1k, 100k and 1M folders this builds a real LMDB store (one
// transaction through the admin API), loads it into a NamespaceIndex as a
// server would, and measures FindLongestPrefix on client-like paths (mixed
// case, forward slashes, file names below the folder; 1 in 8 misses every
// folder and gets the root). Counters: lookups/s, the store's size on disk
// and in use, and the index's resident memory.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dfs/ns/admin.h"
#include "dfs/ns/index.h"
#include "dfs/ns/store.h"

namespace {

using namespace dfs::ns;

// Folder i: every fourth is nested two deep (Sites\SiteN), the rest flat.
std::string FolderPath(size_t i) {
  return i % 4 == 0 ? "Sites\\Site" + std::to_string(i)
                    : "Site" + std::to_string(i);
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  NamespaceIndex index;
  std::vector<std::string> paths;
  double build_seconds = 0, load_seconds = 0;
  size_t index_rss_bytes = 0;
  StoreStats stats;
};

// Resident anonymous memory of this process: the index's heap and its
// mmap-ed huge-page tables alike, but not the LMDB file pages that loading
// maps in (those are the page cache's, shared with every reader).
size_t ResidentBytes() {
  long total = 0, resident = 0, file_backed = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld %ld", &total, &resident, &file_backed) != 3)
    return 0;
  std::fclose(f);
  return static_cast<size_t>(resident - file_backed) *
         static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

Fixture& Get(size_t folders) {
  static std::map<size_t, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[folders];
  if (slot) return *slot;
  // One namespace in memory at a time keeps the 1M case within reason.
  cache.clear();
  auto& f = *(cache[folders] = std::make_unique<Fixture>());
  char tmpl[] = "/tmp/dfs-bench-XXXXXX";
  f.dir = mkdtemp(tmpl);
  StoreOptions options;
  options.create_if_missing = true;
  f.store = std::move(Store::Open(f.dir, options).value());

  auto t0 = std::chrono::steady_clock::now();
  auto r =
      f.store->Update("bench: build", [&](NamespaceWriter& w) -> dfs::Status {
        DFS_RETURN_IF_ERROR(AddRoot(w, "\\\\contoso.com\\webfarm"));
        TargetOptions first, last;
        first.priority_class = PriorityClass::kGlobalHigh;
        last.priority_class = PriorityClass::kGlobalLow;
        for (size_t i = 0; i < folders; ++i) {
          const std::string folder =
              "\\\\contoso.com\\webfarm\\" + FolderPath(i);
          const std::string leaf = "Site" + std::to_string(i);
          DFS_RETURN_IF_ERROR(
              AddLink(w, folder, "\\\\web1\\content\\" + leaf, first));
          DFS_RETURN_IF_ERROR(
              AddTarget(w, folder, "\\\\web2\\content\\" + leaf, last));
        }
        return dfs::Status::Ok();
      });
  if (!r) {
    std::fprintf(stderr, "build failed: %s\n", r.error().Message().c_str());
    std::abort();
  }
  f.build_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();

  malloc_trim(0);
  size_t rss_before = ResidentBytes();
  t0 = std::chrono::steady_clock::now();
  if (!f.store->LoadInto(f.index)) std::abort();
  f.load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  f.index_rss_bytes = ResidentBytes() - rss_before;
  f.stats = f.store->Stats().value();

  // As many distinct paths as there are folders, in a shuffled order: every
  // lookup of a pass meets another folder (4,096 cycled paths measured a
  // warm cache: 649 ns against 1,036 ns at 1M folders).
  std::mt19937 rng(42);
  std::vector<size_t> order(folders);
  for (size_t k = 0; k < folders; ++k) order[k] = k;
  std::shuffle(order.begin(), order.end(), rng);
  f.paths.reserve(folders);
  for (size_t i = 0; i < folders; ++i) {
    const size_t k = order[i];
    std::string path =
        (i % 2 ? "//CONTOSO.COM/WebFarm/" : "\\\\contoso.com\\webfarm\\");
    if (i % 8 == 7) {
      path += "NoSuchFolder" + std::to_string(k) + "\\index.html";
    } else {
      std::string folder = FolderPath(k);
      if (i % 2) std::replace(folder.begin(), folder.end(), '\\', '/');
      path += folder + (i % 2 ? "/images/Logo.PNG" : "\\index.html");
    }
    f.paths.push_back(std::move(path));
  }
  return f;
}

void BM_FindLongestPrefix(benchmark::State& state) {
  Fixture& f = Get(static_cast<size_t>(state.range(0)));
  NormalizedPath scratch;
  size_t i = 0, matched = 0;
  for (auto _ : state) {
    auto m = f.index.FindLongestPrefix(f.paths[i], scratch);
    if (++i == f.paths.size()) i = 0;
    matched += (m && *m && (*m)->folder) ? 1 : 0;
    benchmark::DoNotOptimize(m);
  }
  if (matched == 0) state.SkipWithError("no lookup matched a folder");
  state.SetItemsProcessed(state.iterations());
  state.counters["folders"] = static_cast<double>(f.index.folder_count());
  state.counters["store_disk_MB"] = f.stats.file_bytes / 1e6;
  state.counters["store_used_MB"] = f.stats.used_bytes / 1e6;
  state.counters["index_rss_MB"] = f.index_rss_bytes / 1e6;
  state.counters["build_s"] = f.build_seconds;
  state.counters["load_s"] = f.load_seconds;
}
BENCHMARK(BM_FindLongestPrefix)
    ->Arg(1000)
    ->Arg(100000)
    ->Arg(1000000)
    ->MinTime(1.0);

// For comparison: answering the same question straight from LMDB (a read
// transaction and B-tree probes per lookup), as a tool does.
void BM_LocateInStore(benchmark::State& state) {
  Fixture& f = Get(static_cast<size_t>(state.range(0)));
  size_t i = 0;
  std::mt19937 rng(7);
  for (auto _ : state) {
    auto snapshot = f.store->Snapshot();
    size_t k = rng() % static_cast<size_t>(state.range(0));
    auto at = Locate(**snapshot, "\\\\contoso.com\\webfarm\\" + FolderPath(k));
    benchmark::DoNotOptimize(at);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LocateInStore)->Arg(1000)->Arg(100000)->Arg(1000000)->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
