// The pure parts of dfsrd, without processes or sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "claims.h"

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

}  // namespace
}  // namespace dfs::dfsrd
