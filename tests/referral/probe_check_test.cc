// What dfsd's prober sends and how it judges the answer
// (referral/probe_check.h), without sockets.
#include "dfs/referral/probe_check.h"

#include <gtest/gtest.h>

namespace dfs::referral {
namespace {

TEST(ProbeCheckTest, NamesParseAndUnknownOnesSayWhatThereIs) {
  EXPECT_EQ(*ParseProbeCheck("connect"), ProbeCheck::kConnect);
  EXPECT_EQ(*ParseProbeCheck("smb"), ProbeCheck::kSmb);
  EXPECT_EQ(*ParseProbeCheck("http"), ProbeCheck::kHttp);
  auto bad = ParseProbeCheck("icmp");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().Message().find("connect, smb or http"),
            std::string::npos);
  EXPECT_EQ(ToString(ProbeCheck::kSmb), "smb");
}

TEST(ProbeCheckTest, TheSmbRequestIsAnSmb2NegotiateInATransportFrame) {
  const std::string r = ProbeRequest(ProbeCheck::kSmb, "web1");
  // Direct TCP transport: a zero byte and the 24-bit length of the rest.
  ASSERT_GE(r.size(), 4u + 64u + 36u);
  EXPECT_EQ(r[0], '\0');
  const size_t length = (static_cast<uint8_t>(r[1]) << 16) |
                        (static_cast<uint8_t>(r[2]) << 8) |
                        static_cast<uint8_t>(r[3]);
  EXPECT_EQ(length, r.size() - 4);
  const std::string smb = r.substr(4);
  EXPECT_EQ(smb.substr(0, 4), std::string("\xfeSMB", 4));
  EXPECT_EQ(smb[4], 64);   // header StructureSize
  EXPECT_EQ(smb[12], 0);   // Command: NEGOTIATE
  EXPECT_EQ(smb[64], 36);  // NEGOTIATE StructureSize
  const int dialects = smb[66];
  EXPECT_EQ(smb.size(), 64u + 36u + 2u * dialects);
  // The first dialect offered is SMB 2.0.2 (0x0202, little-endian).
  EXPECT_EQ(smb.substr(100, 2), std::string("\x02\x02", 2));
}

TEST(ProbeCheckTest, AnSmbAnswerIsJudgedOnItsFrameAndMagic) {
  const std::string smb2 = std::string("\0\0\0\x41\xfeSMB", 8) + "rest";
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kSmb, smb2), ProbeVerdict::kServing);
  EXPECT_EQ(
      JudgeProbeAnswer(ProbeCheck::kSmb, std::string("\0\0\0\x41\xffSMB", 8)),
      ProbeVerdict::kServing);
  // Fewer than 8 bytes: wait (unless the first is already wrong).
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kSmb, smb2.substr(0, 5)),
            ProbeVerdict::kNeedMore);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kSmb, ""), ProbeVerdict::kNeedMore);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kSmb, "HTTP/1.1 400"),
            ProbeVerdict::kNotServing);
  EXPECT_EQ(
      JudgeProbeAnswer(ProbeCheck::kSmb, std::string("\0\0\0\x41XSMB", 8)),
      ProbeVerdict::kNotServing);
}

TEST(ProbeCheckTest, AnHttpAnswerIsServingBelow500) {
  const std::string request = ProbeRequest(ProbeCheck::kHttp, "web1");
  EXPECT_TRUE(request.starts_with("HEAD / HTTP/1.0\r\nHost: web1\r\n"));
  EXPECT_TRUE(request.ends_with("\r\n\r\n"));
  // A name cannot smuggle a header in.
  EXPECT_EQ(ProbeRequest(ProbeCheck::kHttp, "web1\r\nX: y").find("\r\nX:"),
            std::string::npos);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTTP/1.1 200 OK\r\n"),
            ProbeVerdict::kServing);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTTP/1.0 404 Not Found"),
            ProbeVerdict::kServing);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTTP/1.1 503 Busy"),
            ProbeVerdict::kNotServing);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTTP/1.1 2"),
            ProbeVerdict::kNeedMore);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTT"),
            ProbeVerdict::kNeedMore);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "SSH-2.0-OpenSSH"),
            ProbeVerdict::kNotServing);
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kHttp, "HTTP/1.1 abc"),
            ProbeVerdict::kNotServing);
}

TEST(ProbeCheckTest, ConnectAsksNothing) {
  EXPECT_TRUE(ProbeRequest(ProbeCheck::kConnect, "web1").empty());
  EXPECT_EQ(JudgeProbeAnswer(ProbeCheck::kConnect, ""), ProbeVerdict::kServing);
}

}  // namespace
}  // namespace dfs::referral
