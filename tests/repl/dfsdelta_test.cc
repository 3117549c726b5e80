// Integration: the real dfsdelta binary: signature/delta/patch like rdiff,
// sync over loopback TCP with its byte counts, reuse of other files, and
// clear failures that leave nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "testing/daemon.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace dfs::repl {
namespace {

namespace fs = std::filesystem;

std::string RandomText(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}
void Write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}
std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class DfsdeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(1);
    old_ = RandomText(rng, 3 << 20);
    new_ = old_;
    new_.insert(1 << 20, RandomText(rng, 5000));
    new_.replace(2 << 20, 30000, RandomText(rng, 30000));
    Write(dir_ / "old", old_);
    Write(dir_ / "new", new_);
  }
  testing::ProcessResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), DFSDELTA_PATH);
    return testing::Run(args);
  }
  std::string P(const char* name) const { return (dir_ / name).string(); }

  testing::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  std::string old_, new_;
};

TEST_F(DfsdeltaTest, SignatureDeltaPatchRebuildTheNewFile) {
  ASSERT_EQ(Run({"signature", P("old"), P("old.sig")}).exit_code, 0);
  auto delta =
      Run({"--stats", "delta", P("old.sig"), P("new"), P("new.delta")});
  ASSERT_EQ(delta.exit_code, 0) << delta.err;
  EXPECT_NE(delta.out.find("literal"), std::string::npos);
  EXPECT_LT(fs::file_size(dir_ / "new.delta"), 5000u + 30000u + 8 * 16384);
  auto patch = Run({"patch", P("old"), P("new.delta"), P("out")});
  ASSERT_EQ(patch.exit_code, 0) << patch.err;
  EXPECT_TRUE(Read(dir_ / "out") == new_);
}

TEST_F(DfsdeltaTest, AnyThreadCountWritesTheSameSignatureAndSyncs) {
  // Large enough to be chunked in several segments at once.
  std::mt19937_64 rng(2);
  std::string big = RandomText(rng, 14 << 20);
  Write(dir_ / "big", big);
  ASSERT_EQ(
      Run({"--threads", "1", "signature", P("big"), P("one.sig")}).exit_code,
      0);
  ASSERT_EQ(
      Run({"--threads", "3", "signature", P("big"), P("three.sig")}).exit_code,
      0);
  EXPECT_TRUE(Read(dir_ / "one.sig") == Read(dir_ / "three.sig"));
  big.insert(9 << 20, "an edit in the middle");
  Write(dir_ / "big2", big);
  auto r = Run({"--threads", "4", "sync", P("big"), P("big2"), P("big3")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Read(dir_ / "big3") == big);
  EXPECT_EQ(
      Run({"--threads", "0", "signature", P("big"), P("x.sig")}).exit_code, 2);
}

TEST_F(DfsdeltaTest, SyncCountsTheBytesThatCrossed) {
  auto r = Run({"--stats", "sync", P("old"), P("new"), P("out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Read(dir_ / "out") == new_);
  const size_t at = r.out.find("wire bytes: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const uint64_t wire = std::stoull(r.out.substr(at + 12));
  EXPECT_GT(wire, 35000u);            // the changes must cross
  EXPECT_LT(wire, 35000u + 100000u);  // and not much else
  // A renamed copy, offered with --reuse, costs almost nothing.
  auto renamed =
      Run({"--stats", "sync", "-", P("new"), P("copy"), "--reuse", P("new")});
  ASSERT_EQ(renamed.exit_code, 0) << renamed.err;
  EXPECT_TRUE(Read(dir_ / "copy") == new_);
  const uint64_t copy_wire =
      std::stoull(renamed.out.substr(renamed.out.find("wire bytes: ") + 12));
  EXPECT_LT(copy_wire, 20000u);
}

TEST_F(DfsdeltaTest, BadInputFailsClearlyAndInstallsNothing) {
  ASSERT_EQ(Run({"signature", P("old"), P("old.sig")}).exit_code, 0);
  ASSERT_EQ(Run({"delta", P("old.sig"), P("new"), P("new.delta")}).exit_code,
            0);
  std::string delta = Read(dir_ / "new.delta");
  delta[delta.size() / 2] ^= 0x40;  // damage a literal or a record
  Write(dir_ / "bad.delta", delta);
  auto bad = Run({"patch", P("old"), P("bad.delta"), P("out")});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("dfsdelta: "), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  // Patching against another basis than the signature's is refused.
  Write(dir_ / "other", old_.substr(0, 1 << 20));
  auto wrong = Run({"patch", P("other"), P("new.delta"), P("out")});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("basis"), std::string::npos) << wrong.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  Write(dir_ / "junk.sig", "not a signature");
  EXPECT_EQ(Run({"delta", P("junk.sig"), P("new"), P("d")}).exit_code, 1);
  EXPECT_EQ(Run({"sync", P("missing"), P("new"), P("out")}).exit_code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  EXPECT_EQ(Run({"--chunk-avg", "3000", "sync", P("old"), P("new"), P("out")})
                .exit_code,
            1);
  EXPECT_EQ(Run({"patch"}).exit_code, 2);  // a command line that does not parse
  // An output that cannot be created says why.
  auto nowhere = Run({"signature", P("old"), P("no-such-dir/old.sig")});
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_NE(nowhere.err.find("No such file or directory"), std::string::npos)
      << nowhere.err;
  // Nothing but our own files is left in the directory.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".dfs-"), std::string::npos)
        << e.path();
  }
}

}  // namespace
}  // namespace dfs::repl

namespace dfs::repl {
namespace {

// Issue 13: an interrupted patch left its full-size temp file behind.
TEST(DfsdeltaSignalTest, AnInterruptedPatchLeavesNoTempFile) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path();
  std::mt19937_64 rng(9);
  Write(dir / "old", RandomText(rng, 1 << 20));
  Write(dir / "new", RandomText(rng, size_t{300} << 20));  // all literals
  ASSERT_EQ(testing::Run({DFSDELTA_PATH, "signature", (dir / "old").string(),
                          (dir / "old.sig").string()})
                .exit_code,
            0);
  ASSERT_EQ(testing::Run({DFSDELTA_PATH, "delta", (dir / "old.sig").string(),
                          (dir / "new").string(), (dir / "new.delta").string()})
                .exit_code,
            0);
  fs::remove(dir / "new");
  auto temp_files = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      n += e.path().filename().string().rfind(".out.dfs-", 0) == 0;
    }
    return n;
  };
  testing::Daemon patch({DFSDELTA_PATH, "patch", (dir / "old").string(),
                         (dir / "new.delta").string(), (dir / "out").string()});
  // Wait (bounded) until the patch is under way, then interrupt it.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (temp_files() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(temp_files(), 1u) << "the patch never started";
  const int status = patch.Kill(SIGTERM);
  ASSERT_FALSE(fs::exists(dir / "out")) << "the patch finished before SIGTERM";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(temp_files(), 0u);
}

}  // namespace
}  // namespace dfs::repl
