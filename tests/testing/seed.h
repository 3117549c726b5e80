// The seed of a randomised test (random scripts, random files): taken from
// DFS_TEST_SEED (or gtest's --gtest_random_seed) when set, else the test's
// own fixed one, and printed so that a failure can be replayed:
//   DFS_TEST_SEED=1234 build/bin/ns_test --gtest_filter=StoreTest.*
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dfs::testing {

inline uint32_t TestSeed(uint32_t fallback = 0) {
  uint32_t seed = fallback;
  if (const char* env = std::getenv("DFS_TEST_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  } else if (const int flag =
                 ::testing::UnitTest::GetInstance()->random_seed()) {
    seed = static_cast<uint32_t>(flag);
  }
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::fprintf(stderr, "[   SEED   ] %u (DFS_TEST_SEED=%u replays it)\n", seed,
               seed);
  return seed;
}

}  // namespace dfs::testing
