// A libFuzzer-compatible driver for builds without libFuzzer (g++): runs
// every file of a corpus folder, then `iterations` seeded mutations of
// them (bit flips, truncations, splices, random bytes), so ctest fuzzes a
// little on every run and a crash names the seed that found it.
//
//   usage: <target>_fuzz CORPUS_DIR [ITERATIONS] [SEED]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void RunOne(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937& rng) {
  std::string s =
      corpus.empty() ? std::string() : corpus[rng() % corpus.size()];
  const int edits = 1 + rng() % 4;
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty())
          s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // truncate
        if (!s.empty()) s.resize(rng() % s.size());
        break;
      case 2:  // set a byte to an interesting value
        if (!s.empty()) {
          static const uint8_t kValues[] = {0,    1,    0x7f, 0x80,
                                            0xff, '\\', '.',  '/'};
          s[rng() % s.size()] =
              static_cast<char>(kValues[rng() % sizeof kValues]);
        }
        break;
      case 3:  // splice another corpus entry in
        if (!corpus.empty()) {
          const std::string& other = corpus[rng() % corpus.size()];
          size_t at = s.empty() ? 0 : rng() % s.size();
          s.insert(at, other.substr(0, rng() % (other.size() + 1)));
        }
        break;
      case 4:  // insert random bytes
        for (int i = rng() % 8; i > 0; --i) {
          s.insert(s.empty() ? 0 : rng() % s.size(), 1,
                   static_cast<char>(rng()));
        }
        break;
      default:  // duplicate a range
        if (!s.empty()) {
          size_t from = rng() % s.size();
          s.insert(from, s.substr(from, rng() % 16));
        }
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS] [SEED]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> corpus;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(argv[1], ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    corpus.push_back(ss.str());
  }
  if (ec || corpus.empty()) {
    // Mutations of nothing test next to nothing: a missing or empty corpus
    // is a broken test, not a clean run.
    std::fprintf(stderr, "%s: no corpus in %s%s%s\n", argv[0], argv[1],
                 ec ? ": " : "", ec ? ec.message().c_str() : "");
    return 1;
  }
  for (const auto& input : corpus) RunOne(input);
  const long iterations = argc > 2 ? std::atol(argv[2]) : 10000;
  // The seed: the third argument, else DFS_FUZZ_SEED, else a fixed one;
  // printed, so a failure can be replayed.
  const char* from_env = std::getenv("DFS_FUZZ_SEED");
  const unsigned seed = argc > 3 ? std::strtoul(argv[3], nullptr, 10)
                        : from_env != nullptr
                            ? std::strtoul(from_env, nullptr, 10)
                            : 20261123u;
  std::fprintf(stderr, "seed %u (DFS_FUZZ_SEED=%u to replay)\n", seed, seed);
  std::mt19937 rng(seed);
  for (long i = 0; i < iterations; ++i) RunOne(Mutate(corpus, rng));
  std::printf("%zu corpus inputs and %ld mutations (seed %u) ran clean\n",
              corpus.size(), iterations, seed);
  return 0;
}
