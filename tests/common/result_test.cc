#include "dfs/common/result.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"

namespace dfs {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0)
    return Fail(Errc::kInvalidArgument, "odd: " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  DFS_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}

Status CheckEven(int v) {
  DFS_RETURN_IF_ERROR(Half(v));
  return Status::Ok();
}

TEST(ResultTest, HoldsValueOrError) {
  auto ok = Half(8);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 4);
  auto bad = Half(3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(bad.error().Message(), "odd: 3");
}

TEST(ResultTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).error().Message(), "odd: 3");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(1).ok());
}

TEST(ResultTest, MessageFallsBackToCategoryText) {
  Error e{make_error_code(Errc::kNotFound), ""};
  EXPECT_EQ(e.Message(), "not found");
}

}  // namespace
}  // namespace dfs
