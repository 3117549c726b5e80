#include "dfs/common/bytes.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"

namespace dfs {
namespace {

TEST(BytesTest, RoundTripsFixedWidthAndStrings) {
  ByteWriter w;
  w.U8(7);
  w.U16(0xbeef);
  w.U32(0xdeadbeef);
  w.U64(0x0123456789abcdefULL);
  w.String("hello");
  ByteReader r(w.data());
  EXPECT_EQ(*r.U8("a"), 7);
  EXPECT_EQ(*r.U16("b"), 0xbeef);
  EXPECT_EQ(*r.U32("c"), 0xdeadbeefu);
  EXPECT_EQ(*r.U64("d"), 0x0123456789abcdefULL);
  EXPECT_EQ(*r.String("e", 16), "hello");
  EXPECT_TRUE(r.ExpectEnd("record").ok());
}

TEST(BytesTest, RejectsTruncatedInputWithoutConsuming) {
  ByteReader r(std::string_view("\x01\x02", 2));
  auto v = r.U32("count");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, make_error_code(Errc::kCorrupt));
  EXPECT_EQ(r.remaining(), 2u);
}

TEST(BytesTest, RejectsStringLongerThanLimitBeforeReading) {
  ByteWriter w;
  w.U32(1u << 30);  // claims a gigabyte
  ByteReader r(w.data());
  auto s = r.String("name", 255);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, make_error_code(Errc::kLimitExceeded));
}

TEST(BytesTest, RejectsStringLongerThanInput) {
  ByteWriter w;
  w.U32(10);
  w.Raw("abc");
  ByteReader r(w.data());
  EXPECT_EQ(r.String("name", 255).error().code,
            make_error_code(Errc::kCorrupt));
}

TEST(BytesTest, TrailingBytesAreCorruption) {
  ByteReader r("xy");
  ASSERT_TRUE(r.U8("x"));
  EXPECT_FALSE(r.ExpectEnd("record").ok());
}

TEST(BytesTest, VarintsRoundTripAndOnlyTheirMinimalFormDecodes) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                     uint64_t{300}, uint64_t{1} << 35, UINT64_MAX}) {
    std::string s;
    AppendVarint(s, v);
    ByteReader r(s);
    auto got = r.Varint("v");
    ASSERT_TRUE(got) << v;
    EXPECT_EQ(*got, v);
    EXPECT_TRUE(r.empty());
  }
  // 0x81 0x00 would be 1 padded to two bytes; 0x80 0x00 is 0 padded.
  for (std::string_view padded :
       {std::string_view("\x81\x00", 2), std::string_view("\x80\x00", 2),
        std::string_view("\xff\x80\x00", 3)}) {
    ByteReader r(padded);
    auto got = r.Varint("v");
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code, Errc::kCorrupt);
    EXPECT_EQ(r.remaining(), padded.size());  // nothing consumed
  }
  // More than 64 bits, and cut short.
  const std::string eleven_bytes = std::string(10, '\xff') + '\x01';
  ByteReader too_long(eleven_bytes);
  EXPECT_FALSE(too_long.Varint("v"));
  ByteReader cut(std::string_view("\x80\x80", 2));
  EXPECT_FALSE(cut.Varint("v"));
}

TEST(BytesTest, BigEndianKeysSortNumerically) {
  EXPECT_LT(EncodeBigEndian64(255), EncodeBigEndian64(256));
  EXPECT_EQ(*DecodeBigEndian64(EncodeBigEndian64(123456789)), 123456789u);
  EXPECT_FALSE(DecodeBigEndian64("short"));
}

}  // namespace
}  // namespace dfs
