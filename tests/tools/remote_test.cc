#include "remote.h"

#include <gtest/gtest.h>

#include "cli.h"
#include "remote_policy.h"
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
           {"--store", "/tmp/other", "root", "list"},
           // Issue 12: the old deny-list matched whole words only.
           {"diag", "referral", "\\c\\w", "--raw=/etc/cron.d/x"},
           {"root", "import", "set", "--backup-dir=/etc", "@upload", "\\c\\w"},
           {"diag", "referral", "\\c\\w", "--server=10.0.0.1:445"},
           {"--store=/tmp/other", "root", "list"},
           {"root", "list", "--", "--raw", "/tmp/x"},
           {"root", "export", "\\c\\w", "--", "/tmp/server-side.xml"},
           {"root", "import", "set", "/tmp/uploaded-earlier", "\\c\\w"},
           {"show", "@upload"},
           {"root", "frobnicate"},
           {"root", "add", "\\c\\x", "--help"},
           {"root", "list", "-h"}}) {
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

TEST(RemotePolicyTest, Issue12AllowsEveryListedCommandWithItsOptions) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"root", "add", "\\c\\w", "--ttl", "60", "--comment", "x"},
           {"--json", "root", "list"},
           {"root", "export", "\\c\\w", "-", "--downlevel"},
           {"root", "import", "compare", "@upload", "\\c\\w"},
           {"root", "import", "set", "@upload", "\\c\\w", "--create",
            "--no-backup"},
           {"link", "add", "\\c\\w\\a", "\\s\\a", "--priority", "first",
            "--rank", "3"},
           {"target", "remove", "\\c\\w\\a", "\\s\\a"},
           {"property", "state", "set", "\\c\\w\\a", "\\s\\a", "offline"},
           {"property", "priority", "set", "\\c\\w\\a", "\\s\\a", "high",
            "--rank", "2"},
           {"site", "cost", "set", "a", "b", "10"},
           {"diag", "referral", "\\c\\w\\a", "--client-address", "10.1.1.1",
            "--level", "3", "--seed", "7"},
           {"log", "--since", "3", "--limit", "10"},
           {"store", "info"}}) {
    auto r = CheckRemoteCommand(args);
    EXPECT_TRUE(r) << args[0] << " " << args[1] << ": " << r.error().context;
  }
}

TEST(RemotePolicyTest, Issue12RefusesByNamingTheWord) {
  auto r = CheckRemoteCommand({"diag", "referral", "\\c\\w", "--raw=/x"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().context.find("--raw=/x"), std::string::npos);
  r = CheckRemoteCommand({"root", "add"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().context.find("arguments"), std::string::npos);
  r = CheckRemoteCommand({"root", "add", "\\c\\w", "--ttl"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().context.find("needs a value"), std::string::npos);
  EXPECT_FALSE(CheckRemoteCommand({}));
  EXPECT_FALSE(CheckRemoteCommand({"--json"}));
}

}  // namespace
}  // namespace dfs::tools
