// AtomicFile: whole files or none, unique temps, permissions kept.
#include "dfs/common/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "testing/temp_dir.h"

namespace dfs {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
size_t Entries(const fs::path& dir) {
  return static_cast<size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFileTest, AppearsWholeOnlyWhenCommitted) {
  testing::TempDir dir;
  const fs::path out = dir.path() / "out";
  {
    auto file = AtomicFile::Create(out.string());
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->Write("hello, "));
    ASSERT_TRUE(file->Write("world"));
    EXPECT_FALSE(fs::exists(out));  // not before the commit
    EXPECT_EQ(fs::path(file->temp_path()).parent_path(), dir.path());
    ASSERT_TRUE(file->Commit(/*durable=*/true));
    EXPECT_FALSE(file->Commit(false));  // once
  }
  EXPECT_EQ(Read(out), "hello, world");
  EXPECT_EQ(Entries(dir.path()), 1u);
  {
    auto abandoned = AtomicFile::Create(out.string());
    ASSERT_TRUE(abandoned);
    ASSERT_TRUE(abandoned->Write("half"));
  }  // dropped uncommitted: the temp goes, the old file stays
  EXPECT_EQ(Read(out), "hello, world");
  EXPECT_EQ(Entries(dir.path()), 1u);
}

TEST(AtomicFileTest, WritersNeverShareATempFile) {
  testing::TempDir dir;
  const std::string out = (dir.path() / "out").string();
  auto a = AtomicFile::Create(out);
  auto b = AtomicFile::Create(out);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->temp_path(), b->temp_path());
  ASSERT_TRUE(a->Write("from a"));
  ASSERT_TRUE(b->Write("from b"));
  ASSERT_TRUE(a->Commit(false));
  ASSERT_TRUE(b->Commit(false));
  EXPECT_EQ(Read(out), "from b");  // the last rename wins, whole
}

TEST(AtomicFileTest, KeepsAReplacedFilesPermissionsAndFollowsTheUmask) {
  testing::TempDir dir;
  const fs::path kept = dir.path() / "kept";
  ASSERT_TRUE(WriteFileAtomically(kept.string(), "old"));
  fs::permissions(kept, fs::perms::owner_read | fs::perms::owner_write |
                            fs::perms::group_read | fs::perms::set_uid);
  ASSERT_TRUE(WriteFileAtomically(kept.string(), "new"));
  EXPECT_EQ(Read(kept), "new");
  EXPECT_EQ(
      fs::status(kept).permissions(),  // set-user-id dropped
      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  const mode_t mask = ::umask(077);
  const fs::path fresh = dir.path() / "fresh";
  const Status made = WriteFileAtomically(fresh.string(), "x");
  ::umask(mask);
  ASSERT_TRUE(made);
  EXPECT_EQ(fs::status(fresh).permissions(),
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(AtomicFileTest, AMissingDirectorySaysWhy) {
  testing::TempDir dir;
  const Status st =
      WriteFileAtomically((dir.path() / "no" / "file").string(), "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::kIo);
  EXPECT_NE(st.error().context.find("No such file or directory"),
            std::string::npos)
      << st.error().context;
}

}  // namespace
}  // namespace dfs
