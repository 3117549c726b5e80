// The control protocol's request codec (what a running mount accepts).
#include "dfs/client/control.h"

#include <gtest/gtest.h>

namespace dfs::client {
namespace {

TEST(ControlTest, RoundTripsEveryCommand) {
  for (auto command : {ControlCommand::kPktInfo, ControlCommand::kPktFlush,
                       ControlCommand::kFail}) {
    ControlRequest request{command, "\\\\contoso\\webfarm\\Site1\\é.html"};
    std::string line = EncodeControlRequest(request);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    auto parsed = ParseControlRequest(line);
    ASSERT_TRUE(parsed) << parsed.error().context;
    EXPECT_EQ(parsed->command, command);
    EXPECT_EQ(parsed->path, request.path);
  }
}

TEST(ControlTest, RefusesWhatIsNotARequest) {
  for (const char* bad :
       {"", "[]", "{}", "{\"command\":1}", "{\"command\":\"rm\"}",
        "{\"command\":\"fail\"}", "{\"command\":\"pktinfo\",\"x\":1}",
        "{\"command\":\"fail\",\"path\":7}", "{\"command\":\"pktinfo\""}) {
    EXPECT_FALSE(ParseControlRequest(bad)) << bad;
  }
  const std::string long_path = "{\"command\":\"fail\",\"path\":\"" +
                                std::string(kMaxControlPathBytes + 1, 'a') +
                                "\"}";
  auto r = ParseControlRequest(long_path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kLimitExceeded));
  EXPECT_FALSE(
      ParseControlRequest(std::string(kMaxControlRequestBytes + 1, ' ')));
}

}  // namespace
}  // namespace dfs::client
