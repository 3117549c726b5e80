#include "dfs/ns/codec.h"

#include <gtest/gtest.h>

#include "dfs/common/bytes.h"
#include "dfs/common/error.h"
#include "testing/random_namespace.h"

namespace dfs::ns {
namespace {

TEST(CodecTest, RandomRecordsRoundTrip) {
  testing::RandomNamespace gen(testing::TestSeed());
  for (int i = 0; i < 500; ++i) {
    Root r = gen.Root();
    EXPECT_EQ(*DecodeRoot(EncodeRoot(r)), r);
    Folder f = gen.Folder();
    EXPECT_EQ(*DecodeFolder(EncodeFolder(f)), f);
  }
}

TEST(CodecTest, ChangeEntriesRoundTrip) {
  testing::RandomNamespace gen(testing::TestSeed());
  for (int i = 0; i < 100; ++i) {
    ChangeEntry e;
    e.serial = gen.rng()();
    e.unix_millis = 1700000000000 + i;
    e.description = "link add " + gen.Name();
    for (int m = gen.rng()() % 10; m > 0; --m)
      e.mutations.push_back(gen.Mutation());
    auto decoded = DecodeChangeEntry(EncodeChangeEntry(e));
    ASSERT_TRUE(decoded) << decoded.error().Message();
    EXPECT_EQ(*decoded, e);
  }
}

TEST(CodecTest, EveryTruncationFailsCleanly) {
  testing::RandomNamespace gen(testing::TestSeed());
  ChangeEntry e;
  e.serial = 42;
  e.description = "x";
  for (int m = 0; m < 6; ++m) e.mutations.push_back(gen.Mutation());
  std::string bytes = EncodeChangeEntry(e);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto d = DecodeChangeEntry(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(d) << "prefix of " << n << " bytes decoded";
  }
  EXPECT_FALSE(DecodeChangeEntry(bytes + "x"));  // trailing garbage
}

TEST(CodecTest, RejectsUnknownVersionAndEnums) {
  std::string bytes = EncodeFolder(Folder{
      "Site1",
      60,
      Failback::kOn,
      "",
      State::kOnline,
      {Target{"w", "s", State::kOnline, PriorityClass::kGlobalHigh, 3, ""}}});
  std::string v2 = bytes;
  v2[0] = 2;
  EXPECT_EQ(DecodeFolder(v2).error().code, make_error_code(Errc::kUnsupported));
  // The target's priority class sits 3 bytes before its site string (u32
  // length 0): state, class, rank, site-length.
  std::string bad_class = bytes;
  bad_class[bad_class.size() - 6] = 9;
  EXPECT_EQ(DecodeFolder(bad_class).error().code,
            make_error_code(Errc::kCorrupt));
  std::string bad_rank = bytes;
  bad_rank[bad_rank.size() - 5] = 32;
  EXPECT_FALSE(DecodeFolder(bad_rank).has_value());
}

TEST(CodecTest, RejectsHugeCountsBeforeAllocating) {
  ByteWriter w;
  w.U8(kRecordVersion);
  w.U64(1);
  w.U64(0);
  w.String("d");
  w.U8(0);
  w.U32(0xffffffff);  // mutation count
  auto d = DecodeChangeEntry(w.data());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, make_error_code(Errc::kLimitExceeded));

  ByteWriter f;
  f.U8(kRecordVersion);
  f.String("Site1");
  f.U32(60);
  f.U8(0);
  f.String("");
  f.U8(0);
  f.U32(1000);  // targets the bytes cannot hold
  EXPECT_FALSE(DecodeFolder(f.data()).has_value());
}

TEST(CodecTest, RandomBytesNeverCrash) {
  std::mt19937 rng(testing::TestSeed());
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (!bytes.empty() && rng() % 2) bytes[0] = kRecordVersion;
    (void)DecodeChangeEntry(bytes);
    (void)DecodeRoot(bytes);
    (void)DecodeFolder(bytes);
  }
}

}  // namespace
}  // namespace dfs::ns
