// Incompressible test content, the same for the same seed (a file a delta
// must not be able to shrink by compression alone).
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace dfs::testing {

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

}  // namespace dfs::testing
