// The referral request handler without sockets: frames in, frames and
// outcomes out.
#include "dfs/referral/request_handler.h"

#include <gtest/gtest.h>

#include "dfs/ns/admin.h"
#include "dfs/referral/codec.h"

namespace dfs::referral {
namespace {

class RequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ns::AddRoot(index_, "\\\\contoso\\webfarm").ok());
    ASSERT_TRUE(
        ns::AddTarget(index_, "\\\\contoso\\webfarm", "\\\\ns1\\webfarm").ok());
    ASSERT_TRUE(ns::AddLink(index_, "\\\\contoso\\webfarm\\Site1",
                            "\\\\web1\\content\\Site1")
                    .ok());
  }
  HandledRequest Ask(const std::string& path, uint16_t level = 4) {
    return handler_.Handle(
        {FrameType::kReferralRequest, EncodeRequest({level, path})}, {});
  }
  static Frame Parse(const std::string& bytes) {
    Framer framer;
    auto frames = framer.Feed(bytes);
    EXPECT_TRUE(frames && frames->size() == 1);
    return (*frames)[0];
  }

  ns::NamespaceIndex index_;
  SiteTable sites_;
  Resolver resolver_{index_, sites_, nullptr, 1};
  RequestHandler handler_{resolver_};
};

TEST_F(RequestHandlerTest, AnswersAReferralWithAResponseFrame) {
  auto h = Ask("\\contoso\\webfarm\\Site1\\index.html");
  EXPECT_EQ(h.outcome, RequestOutcome::kOk);
  Frame f = Parse(h.reply);
  ASSERT_EQ(f.type, FrameType::kReferralResponse);
  auto d = DecodeResponse(f.payload);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->entries.size(), 1u);
  EXPECT_EQ(d->entries[0].network_address, "\\web1\\content\\Site1");
}

TEST_F(RequestHandlerTest, SaysWhatWentWrongInAnErrorFrame) {
  struct Case {
    Frame frame;
    RequestOutcome outcome;
    uint32_t status;
  } cases[] = {
      {{FrameType::kReferralRequest, EncodeRequest({4, "\\nope\\x"})},
       RequestOutcome::kNotFound,
       kStatusNotFound},
      {{FrameType::kReferralRequest, "\x04"},
       RequestOutcome::kBadRequest,
       kStatusInvalidParameter},
      {{FrameType::kReferralRequest,
        EncodeRequest({2, "\\contoso\\webfarm\\Site1"})},
       RequestOutcome::kUnsupported,
       kStatusNotSupported},
      {{FrameType::kSnapshotRequest, ""},
       RequestOutcome::kBadRequest,
       kStatusInvalidParameter},
  };
  for (const auto& c : cases) {
    auto h = handler_.Handle(c.frame, {});
    EXPECT_EQ(h.outcome, c.outcome) << static_cast<int>(c.frame.type);
    Frame f = Parse(h.reply);
    ASSERT_EQ(f.type, FrameType::kError);
    EXPECT_EQ(DecodeErrorPayload(f.payload).status, c.status);
  }
}

}  // namespace
}  // namespace dfs::referral
