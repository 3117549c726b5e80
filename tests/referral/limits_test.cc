#include "dfs/referral/limits.h"

#include <gtest/gtest.h>

namespace dfs::referral {
namespace {

TEST(ConnectionLimitsTest, Issue12DerivedFromTheDescriptorLimit) {
  // The usual soft limit of 1024: the old default of 4096 connections was
  // above it, so dfsd met EMFILE before its own limit.
  auto l = DeriveConnectionLimits(0, 0, 1024);
  EXPECT_EQ(l.total, 1024 - kReservedDescriptors);
  EXPECT_EQ(l.per_address, (1024 - kReservedDescriptors) / 4);
  EXPECT_FALSE(l.capped);
  l = DeriveConnectionLimits(0, 0, 1'048'576);
  EXPECT_EQ(l.total, kDefaultMaxConnections);
  l = DeriveConnectionLimits(5000, 0, 1024);
  EXPECT_EQ(l.total, 1024 - kReservedDescriptors);
  EXPECT_TRUE(l.capped);
  l = DeriveConnectionLimits(100, 7, 1024);
  EXPECT_EQ(l.total, 100u);
  EXPECT_EQ(l.per_address, 7u);
  // Tiny limits still leave a working server, and per address never
  // exceeds the total.
  l = DeriveConnectionLimits(0, 0, 20);
  EXPECT_EQ(l.total, 10u);
  EXPECT_EQ(l.per_address, 8u);
  l = DeriveConnectionLimits(0, 0, 3);
  EXPECT_EQ(l.total, 1u);
  EXPECT_EQ(l.per_address, 1u);
}

}  // namespace
}  // namespace dfs::referral

namespace dfs::referral {
namespace {

using namespace std::chrono_literals;

TEST(AdmitTest, TheTotalAndEachAddressHaveTheirLimit) {
  const ConnectionLimits limits{64, 16, false};
  EXPECT_FALSE(Admit(limits, 0, 0).has_value());
  EXPECT_FALSE(Admit(limits, 63, 15).has_value());
  EXPECT_EQ(Admit(limits, 64, 0), Refusal::kTotal);
  EXPECT_EQ(Admit(limits, 10, 16), Refusal::kPerAddress);
  EXPECT_EQ(Admit(limits, 64, 16), Refusal::kTotal);  // the total first
}

TEST(RefusalLogTest, SaysRefusalsAtMostOnceAnIntervalWithTheirCounts) {
  RefusalLog log;
  const auto t0 = RefusalLog::Clock::time_point{} + 1000h;
  auto first = log.Note(Refusal::kTotal, t0);  // the first is said at once
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (RefusalLog::Counts{1, 0, 0}));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(log.Note(Refusal::kPerAddress, t0 + 9s).has_value());
  }
  EXPECT_FALSE(log.Note(Refusal::kDescriptors, t0 + 9s).has_value());
  auto next = log.Note(Refusal::kTotal, t0 + 10s);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, (RefusalLog::Counts{1, 1000, 1}));  // all since the last
  EXPECT_FALSE(log.Note(Refusal::kTotal, t0 + 11s).has_value());
}

TEST(IdleDeadlineTest, OnlyWholeFramesBuyMoreTime) {
  const auto t0 = IdleDeadline::Clock::time_point{} + 1000h;
  IdleDeadline idle(500ms, t0);
  EXPECT_FALSE(idle.Expired(t0 + 499ms));
  idle.OnRead(0, t0 + 400ms);  // a byte of a frame: no more time
  EXPECT_TRUE(idle.Expired(t0 + 500ms));
  idle.OnRead(1, t0 + 450ms);  // a whole frame: 500 ms from then
  EXPECT_FALSE(idle.Expired(t0 + 900ms));
  EXPECT_TRUE(idle.Expired(t0 + 950ms));
  EXPECT_EQ(idle.deadline(), t0 + 950ms);
}

}  // namespace
}  // namespace dfs::referral
