// The pure parts of dfsrd, without processes or sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "claims.h"
#include "config.h"
#include "rate_limiter.h"

namespace dfs::dfsrd {
namespace {

using namespace std::chrono_literals;

TEST(FetchClaimsTest, APathIsFetchedByOnePullerAtATime) {
  FetchClaims claims;
  EXPECT_TRUE(claims.Claim("a.js", "web1"));
  EXPECT_TRUE(claims.Claim("a.js", "web1"));  // its own claim again
  EXPECT_FALSE(claims.Claim("a.js", "web3"));
  EXPECT_TRUE(claims.Claim("b.js", "web3"));
  claims.Release("a.js", "web3");  // not web3's: nothing changes
  EXPECT_FALSE(claims.Claim("a.js", "web3"));
  claims.Release("a.js", "web1");
  EXPECT_TRUE(claims.Claim("a.js", "web3"));
  EXPECT_EQ(claims.size(), 2u);
}

TEST(FetchClaimsTest, AWaiterWakesWhenTheClaimIsGivenUp) {
  FetchClaims claims;
  ASSERT_TRUE(claims.Claim("site/index.html", "web1"));
  EXPECT_FALSE(claims.WaitUnclaimed("site/index.html", 1ms));
  EXPECT_TRUE(claims.WaitUnclaimed("other.html", 1ms));
  std::atomic<bool> woke{false};
  std::thread waiter(
      [&] { woke = claims.WaitUnclaimed("site/index.html", 60s); });
  claims.Release("site/index.html", "web1");
  waiter.join();
  EXPECT_TRUE(woke);
}

TEST(TokenBucketTest, KeepsTheRateWhateverTheBurstOfTakes) {
  const auto t0 = TokenBucket::SteadyClock::now();
  TokenBucket bucket(/*bytes_per_second=*/1000, /*burst=*/100, t0);
  EXPECT_EQ(bucket.Take(100, t0).count(), 0);  // the burst goes at once
  // Then each take waits for its bytes, debts included.
  EXPECT_EQ(bucket.Take(100, t0), std::chrono::milliseconds(100));
  EXPECT_EQ(bucket.Take(300, t0), std::chrono::milliseconds(400));
  // 400 ms later the debt is paid, not more: a pause never saves up more
  // than the burst.
  EXPECT_EQ(bucket.Take(0, t0 + 400ms).count(), 0);
  EXPECT_EQ(bucket.Take(100, t0 + 10s).count(), 0);
  EXPECT_EQ(bucket.Take(50, t0 + 10s), std::chrono::milliseconds(50));
}

TEST(RateLimiterTest, CancelWakesAWaiter) {
  RateLimiter limiter(/*kbps=*/8);          // 1,000 bytes a second
  ASSERT_TRUE(limiter.Acquire(16 * 1024));  // the burst
  std::atomic<int> result{-1};
  std::thread waiter([&] { result = limiter.Acquire(1'000'000) ? 1 : 0; });
  limiter.Cancel();
  waiter.join();
  EXPECT_EQ(result, 0);
  EXPECT_FALSE(limiter.Acquire(1));
}

std::string ConfigWith(const std::string& extra) {
  return R"({"group":"site1","member":"web1","key_file":"/k","state_dir":"/s",)"
         R"("members":[{"name":"web1","address":"127.0.0.1:7600",)"
         R"("folder":"/f"}])" +
         extra + "}";
}

TEST(GroupConfigTest, ReadsBandwidthAndTombstoneLifetimes) {
  auto defaults = ParseGroupConfig(ConfigWith(""));
  ASSERT_TRUE(defaults.has_value()) << defaults.error().Message();
  EXPECT_EQ(defaults->bandwidth_kbps, 0u);
  EXPECT_EQ(defaults->tombstone_lifetime(), std::chrono::hours(24 * 60));
  auto set = ParseGroupConfig(
      ConfigWith(R"(,"bandwidth_kbps":2400,"tombstone_days":0.5)"));
  ASSERT_TRUE(set.has_value()) << set.error().Message();
  EXPECT_EQ(set->bandwidth_kbps, 2400u);
  EXPECT_EQ(set->tombstone_lifetime(), std::chrono::hours(12));
  for (const char* bad :
       {R"(,"tombstone_days":0)", R"(,"tombstone_days":-1)",
        R"(,"tombstone_days":0.000001)", R"(,"tombstone_days":"60")",
        R"(,"bandwidth_kbps":-5)", R"(,"bandwidth_kbps":"fast")"}) {
    auto refused = ParseGroupConfig(ConfigWith(bad));
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_NE(refused.error().Message().find("dfsrd config"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace dfs::dfsrd
