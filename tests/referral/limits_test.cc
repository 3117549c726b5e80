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
