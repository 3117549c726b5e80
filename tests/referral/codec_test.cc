#include "dfs/referral/codec.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/referral/framing.h"
#include "testing/random_namespace.h"

namespace dfs::referral {
namespace {

Referral Sample(bool root = false) {
  Referral r;
  r.root_referral = root;
  r.dfs_path = "\\contoso\\webfarm\\Site1";
  r.path_consumed_bytes = 46;
  r.ttl_seconds = 1800;
  r.failback = true;
  r.targets = {{"\\web1\\content\\Site1", true, true,
                ns::PriorityClass::kGlobalHigh, 0, ""},
               {"\\web2\\content\\Site1", true, true,
                ns::PriorityClass::kSiteCostNormal, 0, ""},
               {"\\web3\\content\\Site1", false, true,
                ns::PriorityClass::kSiteCostNormal, 0, ""}};
  return r;
}

TEST(CodecTest, RequestRoundTrips) {
  ReferralRequest req{4, "\\contoso\\webfarm\\Café\\日本"};
  std::string bytes = EncodeRequest(req);
  EXPECT_EQ(bytes.size(), 2 + 2 * (Utf16Length(req.path) + 1));
  auto back = DecodeRequest(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->max_referral_level, 4);
  EXPECT_EQ(back->path, req.path);
}

TEST(CodecTest, HostileRequestsAreRejected) {
  EXPECT_FALSE(DecodeRequest(std::string("\x04\x00", 2)).has_value());
  EXPECT_FALSE(DecodeRequest(std::string("\x04\x00\x41\x00\x42", 5))
                   .has_value());  // odd
  EXPECT_FALSE(DecodeRequest(std::string("\x04\x00\x41\x00\x42\x00", 6))
                   .has_value());  // no null
  EXPECT_FALSE(
      DecodeRequest(std::string("\x04\x00\x41\x00\x00\x00\x42\x00\x00\x00", 10))
          .has_value());
  EXPECT_FALSE(DecodeRequest(std::string("\x04\x00\x00\xD8\x00\x00", 6))
                   .has_value());  // lone surrogate
  std::string huge(2 + 2 * (kMaxRequestPathUnits + 10), 'A');
  EXPECT_EQ(DecodeRequest(huge).error().code,
            make_error_code(Errc::kLimitExceeded));
}

TEST(CodecTest, V4ResponseDecodesToWhatWasEncoded) {
  Referral r = Sample();
  auto bytes = EncodeResponse(r, 4);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size() % 2, 0u);
  auto d = DecodeResponse(*bytes);
  ASSERT_TRUE(d) << d.error().Message();
  EXPECT_EQ(d->path_consumed, 46);
  EXPECT_EQ(d->header_flags, kStorageServers | kTargetFailback);
  ASSERT_EQ(d->entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& e = d->entries[i];
    EXPECT_EQ(e.version, 4);
    EXPECT_EQ(e.server_type, 0);
    EXPECT_EQ(e.ttl, 1800u);
    EXPECT_EQ(e.dfs_path, "\\contoso\\webfarm\\Site1");
    EXPECT_EQ(e.alternate_path, e.dfs_path);
    EXPECT_EQ(e.network_address, r.targets[i].path);
    EXPECT_EQ((e.flags & kTargetSetBoundary) != 0, r.targets[i].set_boundary)
        << i;
  }
}

TEST(CodecTest, V3HasNoSetBoundariesAndRootReferralsSayReferralServers) {
  auto bytes = EncodeResponse(Sample(/*root=*/true), 3);
  ASSERT_TRUE(bytes);
  auto d = DecodeResponse(*bytes);
  ASSERT_TRUE(d);
  // Issue 12: TargetFailback MUST be 0 in V3 (only V4 carries it).
  EXPECT_EQ(d->header_flags, kReferralServers | kStorageServers);
  EXPECT_EQ(DecodeResponse(*EncodeResponse(Sample(true), 4))->header_flags,
            kReferralServers | kStorageServers | kTargetFailback);
  for (const auto& e : d->entries) {
    EXPECT_EQ(e.version, 3);
    EXPECT_EQ(e.server_type, 1);
    EXPECT_EQ(e.flags, 0);
  }
  // Never a version above what was asked for; below 3 is refused.
  EXPECT_EQ(DecodeResponse(*EncodeResponse(Sample(), 9))->entries[0].version,
            4);
  EXPECT_EQ(EncodeResponse(Sample(), 2).error().code,
            make_error_code(Errc::kUnsupported));
}

TEST(CodecTest, FirstV4EntryAlwaysStartsASet) {
  Referral r = Sample();
  r.targets[0].set_boundary = false;
  auto d = DecodeResponse(*EncodeResponse(r, 4));
  EXPECT_TRUE(d->entries[0].flags & kTargetSetBoundary);
}

TEST(CodecTest, OversizedReferralsKeepTheFirstTargetsThatFit) {
  Referral r = Sample();
  r.targets.clear();
  for (int i = 0; i < 2000; ++i) {
    r.targets.push_back(
        {"\\server" + std::to_string(i) + "\\" + std::string(40, 's'), false,
         true, ns::PriorityClass::kSiteCostNormal, 0, ""});
  }
  auto bytes = EncodeResponse(r, 4);
  ASSERT_TRUE(bytes);
  EXPECT_LE(bytes->size(), kMaxResponseBytes);
  auto d = DecodeResponse(*bytes);
  ASSERT_TRUE(d);
  EXPECT_GT(d->entries.size(), 100u);
  EXPECT_LT(d->entries.size(), 2000u);
  EXPECT_EQ(d->entries[0].network_address, r.targets[0].path);
}

TEST(CodecTest, HostileResponsesAreRejected) {
  std::string good = *EncodeResponse(Sample(), 4);
  for (size_t n = 0; n < good.size(); ++n) {
    // Every cut either fails or (cut inside the trailing string buffer
    // padding) still decodes; it never reads out of bounds.
    (void)DecodeResponse(std::string_view(good).substr(0, n));
  }
  EXPECT_FALSE(DecodeResponse(good.substr(0, 20)).has_value());
  std::string bad_offset = good;
  bad_offset[8 + 16] = static_cast<char>(0xff);
  bad_offset[8 + 17] = static_cast<char>(0xff);
  EXPECT_FALSE(DecodeResponse(bad_offset).has_value());
  std::string bad_count = good;
  bad_count[2] = static_cast<char>(0xff);
  EXPECT_FALSE(DecodeResponse(bad_count).has_value());
  std::string bad_version = good;
  bad_version[8] = 7;
  EXPECT_EQ(DecodeResponse(bad_version).error().code,
            make_error_code(Errc::kUnsupported));
  std::string bad_size = good;
  bad_size[10] = 2;
  EXPECT_FALSE(DecodeResponse(bad_size).has_value());
}

TEST(FramerTest, ReassemblesFramesFromAnySplit) {
  std::string stream =
      EncodeFrame(FrameType::kReferralRequest, "abc") +
      EncodeFrame(FrameType::kReferralResponse, std::string(1000, 'x')) +
      EncodeFrame(FrameType::kError, "");
  std::mt19937 rng(testing::TestSeed());
  for (int trial = 0; trial < 200; ++trial) {
    Framer framer;
    std::vector<Frame> got;
    for (size_t at = 0; at < stream.size();) {
      size_t n = std::min<size_t>(1 + rng() % 64, stream.size() - at);
      auto frames = framer.Feed(std::string_view(stream).substr(at, n));
      ASSERT_TRUE(frames);
      got.insert(got.end(), frames->begin(), frames->end());
      at += n;
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], (Frame{FrameType::kReferralRequest, "abc"}));
    EXPECT_EQ(got[1].payload.size(), 1000u);
    EXPECT_EQ(got[2].type, FrameType::kError);
    EXPECT_EQ(framer.buffered(), 0u);
  }
}

TEST(FramerTest, RejectsHugeLengthsBeforeBuffering) {
  Framer framer;
  auto r = framer.Feed(std::string("\x7f\xff\xff\xff\x01", 5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(Errc::kLimitExceeded));
  EXPECT_FALSE(framer.Feed("more"));  // the stream stays failed
  Framer other;
  EXPECT_FALSE(other.Feed(std::string("\0\0\0\0\x63", 5)));  // unknown type
}

// Issue 12: an interlink's targets answer referrals (R=1, S=0, server
// type 1); zero referrals encode as a header alone.
TEST(CodecTest, Issue12InterlinksAndEmptyReferrals) {
  Referral r = Sample(false);
  r.interlink = true;
  r.failback = false;
  auto d = DecodeResponse(*EncodeResponse(r, 4));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->header_flags, kReferralServers);
  for (const auto& e : d->entries) EXPECT_EQ(e.server_type, 1);
  Referral empty = Sample(false);
  empty.targets.clear();
  auto z = DecodeResponse(*EncodeResponse(empty, 4));
  ASSERT_TRUE(z);
  EXPECT_TRUE(z->entries.empty());
  EXPECT_EQ(z->path_consumed, empty.path_consumed_bytes);
}

}  // namespace
}  // namespace dfs::referral

namespace dfs::referral {
namespace {

// Blocking readers (dfsdelta's socket channel) read a header on its own.
TEST(FrameHeaderTest, DecodesWhatEncodeWritesAndChecksEveryLimit) {
  auto header =
      DecodeFrameHeader(EncodeFrameHeader(FrameType::kReplSync, 17), 1024);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->first, FrameType::kReplSync);
  EXPECT_EQ(header->second, 17u);
  auto too_long =
      DecodeFrameHeader(std::string("\x7f\x00\x00\x00\x10", 5), 1024);
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().code, make_error_code(Errc::kLimitExceeded));
  EXPECT_FALSE(DecodeFrameHeader(std::string("\x00\x00\x00\x01\x00", 5), 1024));
  EXPECT_FALSE(DecodeFrameHeader(std::string("\x00\x00\x00\x01\x63", 5), 1024));
  EXPECT_FALSE(DecodeFrameHeader("abc", 1024));
}

}  // namespace
}  // namespace dfs::referral
