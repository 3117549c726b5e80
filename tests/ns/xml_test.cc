#include "dfs/ns/xml.h"

#include <gtest/gtest.h>

#include "dfs/common/error.h"
#include "dfs/ns/path.h"
#include "testing/random_namespace.h"

namespace dfs::ns {
namespace {

// A random valid namespace: folder i's first component is unique, so no
// folder nests in another; names carry XML-special and non-ASCII text.
NamespaceDocument RandomDocument(uint32_t seed, size_t folders) {
  testing::RandomNamespace gen(seed);
  auto& rng = gen.rng();
  static const std::vector<std::string> kOdd = {"R&D",  "it's", "Café",
                                                "日本", "a+b",  "x&amp;y"};
  auto odd = [&] { return kOdd[rng() % kOdd.size()]; };
  auto target = [&](size_t i) {
    Target t = gen.Target();
    t.server = "srv" + std::to_string(i) + "-" + std::to_string(rng() % 100);
    t.share = gen.Name() + (rng() % 4 == 0 ? "\\" + odd() : "");
    if (!t.site.empty()) t.site = "site" + std::to_string(rng() % 5);
    return t;
  };
  NamespaceDocument doc;
  doc.root = gen.Root();
  doc.root.host = "contoso";
  doc.root.name = "webfarm";
  doc.root.comment = rng() % 2 ? "farm & \"friends\" — ünïcode" : "";
  doc.root.targets.clear();
  for (int i = rng() % 3; i > 0; --i)
    doc.root.targets.push_back(target(100 + i));
  for (size_t i = 0; i < folders; ++i) {
    Folder f = gen.Folder();
    f.path = "F" + std::to_string(i) + (rng() % 3 == 0 ? odd() : "") +
             (rng() % 4 == 0 ? "\\" + gen.Name() : "");
    f.comment = rng() % 3 == 0 ? odd() + " " + gen.Name() : "";
    f.targets.clear();
    for (size_t t = 0; t < 1 + rng() % 3; ++t) f.targets.push_back(target(t));
    doc.folders.push_back(std::move(f));
  }
  return doc;
}

void ExpectSame(const NamespaceDocument& a, const NamespaceDocument& b) {
  EXPECT_EQ(a.root, b.root);
  ASSERT_EQ(a.folders.size(), b.folders.size());
  for (size_t i = 0; i < a.folders.size(); ++i)
    EXPECT_EQ(a.folders[i], b.folders[i]) << i;
}

std::string ErrorOf(std::string_view xml) {
  auto r = ImportXml(xml);
  return r ? "" : r.error().Message();
}

TEST(XmlTest, LargeRandomNamespaceRoundTripsInBothDialects) {
  NamespaceDocument doc = RandomDocument(testing::TestSeed(), 2000);
  for (auto dialect : {XmlDialect::kWindows2008, XmlDialect::kDownLevel}) {
    std::string xml = ExportXml(doc, dialect);
    auto back = ImportXml(xml);
    ASSERT_TRUE(back) << back.error().Message();
    EXPECT_TRUE(back->warnings.empty()) << back->warnings[0];
    EXPECT_EQ(back->root_path, "\\\\contoso\\webfarm");
    ExpectSame(back->doc, doc);
    EXPECT_TRUE(Diff(doc, back->doc).empty());
  }
}

TEST(XmlTest, ExportIsAsciiWithEscapes) {
  NamespaceDocument doc = RandomDocument(1, 50);
  doc.folders[0].path = "Café & Co's";
  doc.folders[0].comment = "it's \"quoted\" <b>";
  std::string xml = ExportXml(doc, XmlDialect::kWindows2008);
  for (unsigned char c : xml) ASSERT_LT(c, 0x80);
  EXPECT_NE(xml.find("Caf&#xE9; &amp; Co&apos;s"), std::string::npos);
  EXPECT_NE(xml.find("it&apos;s &quot;quoted&quot; &lt;b&gt;"),
            std::string::npos);
  ExpectSame(ImportXml(xml)->doc, doc);
}

std::string ToUtf16(std::string_view utf8, bool little_endian) {
  std::string out = little_endian ? "\xFF\xFE" : "\xFE\xFF";
  // The test inputs are ASCII: one UTF-16 unit per byte.
  for (char c : utf8) {
    if (little_endian) {
      out += c;
      out += '\0';
    } else {
      out += '\0';
      out += c;
    }
  }
  return out;
}

TEST(XmlTest, ReadsBomsUtf16AndCrlf) {
  NamespaceDocument doc = RandomDocument(2, 20);
  std::string xml = ExportXml(doc, XmlDialect::kWindows2008);
  std::string crlf;
  for (char c : xml) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  for (const std::string& variant :
       {"\xEF\xBB\xBF" + xml, crlf, ToUtf16(crlf, true), ToUtf16(xml, false)}) {
    auto back = ImportXml(variant);
    ASSERT_TRUE(back) << back.error().Message();
    ExpectSame(back->doc, doc);
  }
  EXPECT_NE(ErrorOf("\xFF\xFE<\0R"), "");  // odd-length UTF-16
}

// The Windows Server 2003 sample of ../shared/dfsutil-xml.md, with the
// bare-ampersand bug in a share name.
constexpr std::string_view kDownLevelSample = R"(<?xml version="1.0"?>
<Root Name="\\FABRIKAM\Content" State="1" Timeout="300" Attributes="64" >
    <Target Server="NS1" Folder="Content" State="2" />
    <Target Server="NS2" Folder="Content" State="2" />
    <Link Name="Shop" State="1" Timeout="1800" >
        <Target Server="files1" Folder="shop" State="2" />
        <Target Server="files2" Folder="R&D" State="6" />
    </Link>
    <Link Name="archive\2019" State="3" Timeout="900" >
        <Target Server="files3" Folder="archive\old\2019" State="1" />
    </Link>
</Root>
)";

TEST(XmlTest, ReadsTheDownLevelSampleAndRecoversABareAmpersand) {
  auto r = ImportXml(kDownLevelSample);
  ASSERT_TRUE(r) << r.error().Message();
  EXPECT_EQ(r->root_path, "\\\\FABRIKAM\\Content");
  const NamespaceDocument& d = r->doc;
  EXPECT_EQ(d.root.ttl_seconds, 300u);
  EXPECT_EQ(d.root.ordering, OrderingMethod::kLowestCost);  // 0x40
  EXPECT_FALSE(d.root.failback);
  ASSERT_EQ(d.root.targets.size(), 2u);
  EXPECT_EQ(d.root.targets[1].Unc(), "\\\\NS2\\Content");
  ASSERT_EQ(d.folders.size(), 2u);
  EXPECT_EQ(d.folders[0].path, "Shop");
  EXPECT_EQ(d.folders[0].targets[1].share, "R&D");
  EXPECT_EQ(d.folders[0].targets[1].state, State::kOnline);  // 2 | active
  EXPECT_EQ(d.folders[1].path, "archive\\2019");
  EXPECT_EQ(d.folders[1].state, State::kOffline);
  EXPECT_EQ(d.folders[1].ttl_seconds, 900u);
  EXPECT_EQ(d.folders[1].targets[0].state, State::kOffline);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("line 7, column"), std::string::npos)
      << r->warnings[0];
  EXPECT_NE(r->warnings[0].find("bare '&'"), std::string::npos);
}

TEST(XmlTest, UnknownAttributesAndElementsAreWarnings) {
  auto r = ImportXml(
      R"(<Root Name="\\c\r" Flavour="x"><Link Name="A" Color="red"><Target State="ONLINE">\\s\a</Target></Link><Extra/></Root>)");
  ASSERT_TRUE(r) << r.error().Message();
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_NE(r->warnings[0].find("Flavour"), std::string::npos);
  EXPECT_NE(r->warnings[1].find("Color"), std::string::npos);
  EXPECT_NE(r->warnings[2].find("<Extra>"), std::string::npos);
}

TEST(XmlTest, MalformedFilesNameLineColumnAndReason) {
  struct Case {
    std::string xml;
    std::string says;
  } cases[] = {
      {"this is not xml", "line 1, column 16: not well-formed XML"},
      {"<Root Name=\"\\\\c\\r\">\n  <Link Name=\"A\">\n    "
       "<Target>\\\\s\\a</Target>\n",
       "line 3, column 27: the file ends early (truncated?)"},
      {"<Namespace Name=\"\\\\c\\r\"/>", "not <Root>"},
      {"<Root Name=\"\\\\c\\r\" Timeout=\"soon\"/>",
       "Timeout=\"soon\" is not a number"},
      {"<Root Name=\"\\\\c\\r\" Timeout=\"99999999999\"/>",
       "is not a number from 0 to"},
      {"<Root Name=\"\\\\c\\r\">\n<Link "
       "Name=\"A\"><Target>\\\\s\\a</Target></Link>\n<Link "
       "Name=\"a\"><Target>\\\\s\\b</Target></Link></Root>",
       "line 3, column 1: folder a is listed twice"},
      {"<Root Name=\"\\\\c\\r\"><Link "
       "Name=\"A\"><Target>\\\\s\\a</Target></Link>\n<Link "
       "Name=\"A\\B\"><Target>\\\\s\\b</Target></Link></Root>",
       "line 2, column 1: folder A\\B lies inside folder A"},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A\"><Link "
       "Name=\"B\"/></Link></Root>",
       "<Link> inside <Link>"},
      {"<Root><Link Name=\"A\"/></Root>", "<Root> has no Name"},
      {"<Root Name=\"\\\\c\\r\\x\"/>", "is not \\\\host\\root"},
      {"<Root Name=\"\\\\c\\r\"><Link "
       "Name=\"..\"><Target>\\\\s\\a</Target></Link></Root>",
       "'..' is not allowed"},
      {"<Root Name=\"\\\\c\\r\"><Link "
       "Name=\"A\"><Target>not-unc</Target></Link></Root>",
       "not a UNC path"},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A\"><Target "
       "State=\"MAYBE\">\\\\s\\a</Target></Link></Root>",
       "target State=\"MAYBE\""},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A\"/></Root>", "has no targets"},
      {"<Root Name=\"\\\\c\\r\"><Link "
       "Name=\"A\"><Target>\\\\s\\a</Target><Target>\\\\S\\A</Target></Link></"
       "Root>",
       "listed twice"},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A\"><Target "
       "PriorityClass=\"urgent\">\\\\s\\a</Target></Link></Root>",
       "priority class"},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A\"><Target "
       "PriorityRank=\"40\">\\\\s\\a</Target></Link></Root>",
       "PriorityRank=\"40\""},
      {"\xC3\x28 bad utf-8", "neither UTF-8 nor UTF-16"},
      {"", "line 1, column 1: "},
  };
  for (const auto& c : cases) {
    std::string error = ErrorOf(c.xml);
    EXPECT_NE(error.find(c.says), std::string::npos)
        << c.xml << "\n  => " << error;
  }
}

// Issue 12: what a red team's hostile files got through.
TEST(XmlTest, Issue12HostileFilesAreRefusedWithAReason) {
  const std::string link = "<Link Name=\"A\"><Target>\\\\s\\a</Target></Link>";
  struct Case {
    std::string xml;
    std::string says;
  } cases[] = {
      // &#0; cut the name short without a word.
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"Sho&#0;p\"><Target>\\\\s\\a"
       "</Target></Link></Root>",
       "character reference &#0; is not a character XML allows"},
      {"<Root Name=\"\\\\c\\r\"><Link Name=\"A&#x1;\"><Target>\\\\s\\a"
       "</Target></Link></Root>",
       "&#x1;"},
      {"<Root Name=\"\\\\c\\r\" Timeout=\"300\" Timeout=\"5\">" + link +
           "</Root>",
       "Timeout"},
      {"<Root Name=\"\\\\c\\r\" Timeout=\"300\" TIMEOUT=\"5\">" + link +
           "</Root>",
       "attribute TIMEOUT appears twice on <Root>"},
      {"<Root Name=\"\\\\c\\r\">" + link + "</Root>\n<Root Name=\"\\\\c\\x\">" +
           link + "</Root>",
       "a second root element <Root>"},
      {"<?xml version=\"1.0\"?><Root Name=\"\\\\c\\r\">" + link +
           "</Root><?xml version=\"1.0\"?>",
       "a second XML declaration"},
      {"<Root Name=\"\\\\contoso\\webfarm\"><Link "
       "Name=\"\\\\contoso\\webfarm\\A\"><Target>\\\\s\\a</Target></Link>"
       "</Root>",
       "is a UNC path; it must be the folder's path relative to the root"},
  };
  for (const auto& c : cases) {
    auto r = ImportXml(c.xml);
    ASSERT_FALSE(r) << c.xml;
    EXPECT_NE(r.error().Message().find(c.says), std::string::npos)
        << c.xml << "\n  => " << r.error().Message();
  }
  // Allowed references still work.
  auto ok = ImportXml(
      "<Root Name=\"\\\\c\\r\"><Link Name=\"Caf&#xE9;&#x41;x\"><Target>"
      "\\\\s\\a</Target></Link></Root>");
  ASSERT_TRUE(ok) << ok.error().Message();
}

}  // namespace
}  // namespace dfs::ns
