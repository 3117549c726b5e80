#include "remote.h"

#include <gtest/gtest.h>

#include "cli.h"
#include "testing/temp_dir.h"

namespace dfs::tools {
namespace {

class RemoteExecutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream out, err;
    ASSERT_EQ(RunDfsutil({"root", "add", "\\\\c\\w"}, out, err,
                         store_.path().string()),
              0)
        << err.str();
  }
  referral::AdminResult Run(std::vector<std::string> args,
                            std::string upload = "") {
    return ExecuteRemoteCommand({std::move(args), std::move(upload)},
                                store_.path().string());
  }
  dfs::testing::TempDir store_;
};

TEST_F(RemoteExecutionTest, RefusesWhatWouldTouchTheServersFiles) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"root", "export", "\\\\c\\w", "/tmp/server-side.xml"},
           {"--json", "root", "export", "\\\\c\\w", "/tmp/server-side.xml"},
           {"root", "import", "set", "/etc/passwd", "\\\\c\\w"},
           {"diag", "referral", "\\c\\w", "--raw", "/tmp/x"},
           {"root", "import", "set", "--backup-dir", "/tmp", "@upload",
            "\\\\c\\w"},
           {"--store", "/tmp/other", "root", "list"}}) {
    auto r = Run(args, "<Root/>");
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << args[1];
    EXPECT_NE(r.err.find("(remote)"), std::string::npos) << r.err;
  }
}

TEST_F(RemoteExecutionTest, RunsOrdinaryCommandsOnTheServersStore) {
  // A value that merely reads "import" is not an import.
  auto comment = Run({"property", "comment", "set", "\\\\c\\w", "import"});
  EXPECT_EQ(comment.exit_code, 0) << comment.err;
  auto shown = Run({"--json", "show", "\\\\c\\w"});
  EXPECT_NE(shown.out.find("\"comment\": \"import\""), std::string::npos)
      << shown.out;
  auto exported = Run({"root", "export", "\\\\c\\w", "-"});
  EXPECT_EQ(exported.exit_code, 0);
  EXPECT_NE(exported.out.find("<Root"), std::string::npos);
  auto imported = Run({"root", "import", "merge", "@upload", "\\\\c\\w"},
                      "<Root Name=\"\\\\c\\w\"><Link "
                      "Name=\"A\"><Target>\\\\s\\a</Target></Link></Root>");
  EXPECT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("1 added"), std::string::npos) << imported.out;
}

}  // namespace
}  // namespace dfs::tools
