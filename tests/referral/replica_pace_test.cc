// The replica's pacing policy (referral/replica_pace.h), without time.
#include "dfs/referral/replica_pace.h"

#include <gtest/gtest.h>

namespace dfs::referral {
namespace {

using std::chrono::milliseconds;

TEST(ReplicaPaceTest, CaughtUpWaitsTheInterval) {
  ReplicaPace pace(milliseconds(200), milliseconds(5000));
  auto next = pace.After(/*before=*/7, /*after=*/7, /*primary=*/7);
  EXPECT_EQ(next.wait, milliseconds(200));
  EXPECT_FALSE(next.caught_up);  // was never behind
  EXPECT_FALSE(next.fell_behind);
}

TEST(ReplicaPaceTest, ProgressAsksAgainAtOnce) {
  ReplicaPace pace(milliseconds(200), milliseconds(5000));
  auto first = pace.After(0, 256, 1000);
  EXPECT_EQ(first.wait.count(), 0);
  EXPECT_TRUE(first.fell_behind);
  auto second = pace.After(256, 512, 1000);
  EXPECT_EQ(second.wait.count(), 0);
  EXPECT_FALSE(second.fell_behind);  // said once a lag
  auto done = pace.After(512, 1000, 1000);
  EXPECT_TRUE(done.caught_up);
  EXPECT_EQ(done.wait, milliseconds(200));
}

TEST(ReplicaPaceTest, APrimaryThatSendsNothingIsAskedLessAndLessOften) {
  ReplicaPace pace(milliseconds(200), milliseconds(5000));
  const milliseconds expected[] = {milliseconds(200),  milliseconds(400),
                                   milliseconds(800),  milliseconds(1600),
                                   milliseconds(3200), milliseconds(5000),
                                   milliseconds(5000)};
  for (size_t i = 0; i < std::size(expected); ++i) {
    auto next = pace.After(10, 10, 100);  // claims 100, sends nothing
    EXPECT_EQ(next.wait, expected[i]) << i;
    EXPECT_EQ(next.stalled_first, i == 0) << i;  // logged once a streak
  }
  // Progress ends the streak: the next stall starts again from the
  // interval, and says so again.
  EXPECT_EQ(pace.After(10, 20, 100).wait.count(), 0);
  auto again = pace.After(20, 20, 100);
  EXPECT_EQ(again.wait, milliseconds(200));
  EXPECT_TRUE(again.stalled_first);
  // Caught up: the streak and the lag are over.
  EXPECT_TRUE(pace.After(20, 100, 100).caught_up);
  EXPECT_EQ(pace.After(100, 100, 200).wait, milliseconds(200));
}

}  // namespace
}  // namespace dfs::referral
