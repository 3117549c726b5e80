#include "dfs/ns/path.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"

namespace dfs::ns {
namespace {

std::error_code CodeOf(std::string_view path) {
  NormalizedPath p;
  Status s = NormalizeUnc(path, 2, p);
  return s.ok() ? std::error_code() : s.error().code;
}

TEST(PathTest, AcceptsBothSeparatorsAndCollapsesRepeats) {
  NormalizedPath p;
  ASSERT_TRUE(
      NormalizeUnc("//Contoso/WebFarm//Site1\\\\index.html/", 2, p).ok());
  EXPECT_EQ(p.display, "\\\\Contoso\\WebFarm\\Site1\\index.html");
  EXPECT_EQ(p.folded, "\\\\contoso\\webfarm\\site1\\index.html");
  ASSERT_EQ(p.count, 4u);
  EXPECT_EQ(p.Display(2), "Site1");
  EXPECT_EQ(p.Folded(0), "contoso");
  EXPECT_EQ(p.FoldedRange(2, 4), "site1\\index.html");
  EXPECT_EQ(p.DisplayRange(1, 3), "WebFarm\\Site1");
}

TEST(PathTest, FoldsNonAsciiCaseInsensitively) {
  EXPECT_EQ(FoldCase("ÄRGER"), FoldCase("ärger"));
  EXPECT_EQ(FoldCase("ΣΕΛΙΔΑ"), FoldCase("σελιδα"));
  EXPECT_EQ(FoldCase("Привет"), FoldCase("пРИВЕТ"));
  EXPECT_NE(FoldCase("a"), FoldCase("b"));
  auto a = ParseNamespacePath("\\\\contoso\\webfarm\\Ünïcode");
  auto b = ParseNamespacePath("\\\\CONTOSO\\WEBFARM\\üNÏCODE");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->RestFolded(), b->RestFolded());
  EXPECT_EQ(a->rest[0], "Ünïcode");  // display case kept
}

TEST(PathTest, RejectsNonUncPaths) {
  EXPECT_EQ(CodeOf("contoso\\webfarm"),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\contoso\\webfarm"),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf(""), make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\"), make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\contoso"), make_error_code(Errc::kInvalidArgument));
}

TEST(PathTest, RejectsDotComponents) {
  EXPECT_EQ(CodeOf("\\\\h\\r\\..\\x"), make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\h\\r\\.\\x"), make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("//h/r/a/../../../etc/passwd"),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\h\\.."), make_error_code(Errc::kInvalidArgument));
}

TEST(PathTest, RejectsForbiddenCharactersWithTheirCode) {
  for (std::string bad :
       std::vector<std::string>{"a:b", "a*b", "a?b", "a<b", "a>b", "a|b",
                                "a\"b", std::string("a\0b", 3), "a\nb",
                                "a\x7f"
                                "b"}) {
    NormalizedPath p;
    Status s = NormalizeUnc("\\\\h\\r\\" + bad, 2, p);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().Message().find("not allowed"), std::string::npos);
    // The message stays on one line whatever the input held.
    EXPECT_EQ(s.error().Message().find('\n'), std::string::npos);
  }
}

TEST(PathTest, RejectsTrailingDotOrSpace) {
  EXPECT_FALSE(ParseNamespacePath("\\\\h\\r\\Site1.").has_value());
  EXPECT_FALSE(ParseNamespacePath("\\\\h\\r\\Site1 ").has_value());
  EXPECT_TRUE(ParseNamespacePath("\\\\h\\r\\Site 1").has_value());
}

TEST(PathTest, RejectsInvalidUtf8) {
  EXPECT_EQ(CodeOf("\\\\h\\r\\\xc3"), make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\h\\r\\\xc0\xaf"),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\h\\r\\\xed\xa0\x80"),
            make_error_code(Errc::kInvalidArgument));
  EXPECT_EQ(CodeOf("\\\\h\\r\\\xf4\x90\x80\x80"),
            make_error_code(Errc::kInvalidArgument));
}

TEST(PathTest, EnforcesLimits) {
  EXPECT_EQ(CodeOf("\\\\h\\r\\" + std::string(kMaxComponentBytes + 1, 'a')),
            make_error_code(Errc::kLimitExceeded));
  EXPECT_TRUE(CodeOf("\\\\h\\r\\" + std::string(kMaxComponentBytes, 'a')) ==
              std::error_code());
  std::string long_path = "\\\\h\\r";
  while (long_path.size() <= kMaxPathBytes) long_path += "\\abcdefgh";
  EXPECT_EQ(CodeOf(long_path), make_error_code(Errc::kLimitExceeded));
  std::string deep = "\\\\h\\r";
  for (size_t i = 0; i < kMaxComponents; ++i) deep += "\\a";
  EXPECT_EQ(CodeOf(deep), make_error_code(Errc::kLimitExceeded));
  std::string deep_ns = "\\\\h\\r";
  for (size_t i = 0; i <= kMaxFolderDepth; ++i) deep_ns += "\\a";
  EXPECT_FALSE(ParseNamespacePath(deep_ns).has_value());
}

TEST(PathTest, ValidatesHostNames) {
  EXPECT_EQ(*ParseHostName("OrcsWeb.COM"), "orcsweb.com");
  EXPECT_EQ(*ParseHostName("OW"), "ow");
  EXPECT_EQ(*ParseHostName("10.0.0.1"), "10.0.0.1");
  EXPECT_FALSE(ParseHostName("").has_value());
  EXPECT_FALSE(ParseHostName("bad host").has_value());
  EXPECT_FALSE(ParseHostName("a..b").has_value());
  EXPECT_FALSE(ParseHostName(".a").has_value());
  EXPECT_FALSE(ParseHostName("hôst").has_value());
  EXPECT_EQ(CodeOf("\\\\bad$host\\share"),
            make_error_code(Errc::kInvalidArgument));
}

TEST(PathTest, ParsesTargetPaths) {
  auto t = ParseTargetPath("//Web1/Content$/Site1/");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->server, "Web1");
  EXPECT_EQ(t->share, "Content$\\Site1");
  EXPECT_EQ(t->folded, "\\\\web1\\content$\\site1");
  EXPECT_FALSE(ParseTargetPath("\\\\web1").has_value());
}

TEST(PathTest, NamespacePathSplitsRootAndRest) {
  auto p = ParseNamespacePath("\\\\contoso\\webfarm\\Sites\\Site1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "contoso");
  EXPECT_EQ(p->root, "webfarm");
  EXPECT_EQ(p->RestDisplay(), "Sites\\Site1");
  EXPECT_EQ(p->Display(), "\\\\contoso\\webfarm\\Sites\\Site1");
}

}  // namespace
}  // namespace dfs::ns
