#include "dfs/ns/xml.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <charconv>
#include <pugixml.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "dfs/common/error.h"
#include "dfs/ns/admin.h"
#include "dfs/ns/path.h"

namespace dfs::ns {
namespace {

constexpr std::string_view kOurXmlns = "urn:dfs-linux:namespace-export:1";
// MS-DFSNM DFS_INFO_103 property flags as the export writes them (shifted
// left by 4; see namespace/FORMAT.md).
constexpr uint32_t kAttrInSite = 0x10;
constexpr uint32_t kAttrSiteCosting = 0x40;
constexpr uint32_t kAttrFailback = 0x80;

// ---------------------------------------------------------------- export

void AppendEscaped(std::string& out, std::string_view s) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t n = static_cast<int32_t>(s.size());
  int32_t i = 0;
  while (i < n) {
    const uint8_t b = bytes[i];
    if (b < 0x80) {
      switch (b) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          if (b < 0x20) {
            char ref[8];
            snprintf(ref, sizeof ref, "&#x%X;", b);
            out += ref;
          } else {
            out += static_cast<char>(b);
          }
      }
      ++i;
      continue;
    }
    UChar32 c;
    U8_NEXT(bytes, i, n, c);
    if (c < 0) c = 0xFFFD;
    char ref[16];
    snprintf(ref, sizeof ref, "&#x%X;", static_cast<unsigned>(c));
    out += ref;
  }
}

void Attr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  AppendEscaped(out, value);
  out += '"';
}

void Attr(std::string& out, std::string_view name, uint64_t value) {
  Attr(out, name, std::to_string(value));
}

std::string_view StateWord(State s) {
  return s == State::kOnline ? "ONLINE" : "OFFLINE";
}

void WriteTarget(std::string& out, const Target& t, XmlDialect dialect,
                 const char* indent) {
  out += indent;
  out += "<Target";
  if (dialect == XmlDialect::kDownLevel) {
    Attr(out, "Server", t.server);
    Attr(out, "Folder", t.share);
    Attr(out, "State", t.state == State::kOnline ? 2 : 1);
    if (t.priority_class != PriorityClass::kSiteCostNormal ||
        t.priority_rank != 0) {
      Attr(out, "dfs:PriorityClass", ToString(t.priority_class));
      Attr(out, "dfs:PriorityRank", t.priority_rank);
    }
  } else {
    Attr(out, "State", StateWord(t.state));
    Attr(out, "PriorityClass", ToString(t.priority_class));
    Attr(out, "PriorityRank", t.priority_rank);
  }
  if (!t.site.empty()) Attr(out, "dfs:Site", t.site);
  if (dialect == XmlDialect::kDownLevel) {
    out += "/>\n";
  } else {
    out += '>';
    AppendEscaped(out, t.Unc());
    out += "</Target>\n";
  }
}

// ---------------------------------------------------------------- import

struct Position {
  size_t line = 0, column = 0;
};

// Line and column (from 1) of byte `offset` in `text`.
Position PositionOf(std::string_view text, ptrdiff_t offset) {
  Position p{1, 1};
  if (offset < 0) return Position{};
  const size_t end = std::min(static_cast<size_t>(offset), text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else if ((static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) {
      ++p.column;  // count characters, not UTF-8 continuation bytes
    }
  }
  return p;
}

std::string At(std::string_view text, ptrdiff_t offset) {
  Position p = PositionOf(text, offset);
  if (p.line == 0) return "";
  return "line " + std::to_string(p.line) + ", column " +
         std::to_string(p.column) + ": ";
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Turns the bytes of a file into UTF-8 without a BOM.
Result<std::string> ToUtf8(std::string_view bytes) {
  auto starts = [&](std::string_view p) {
    return bytes.substr(0, p.size()) == p;
  };
  if (starts("\xEF\xBB\xBF")) return std::string(bytes.substr(3));
  const bool le = starts("\xFF\xFE"), be = starts("\xFE\xFF");
  if (!le && !be) return std::string(bytes);
  std::string_view body = bytes.substr(2);
  if (body.size() % 2 != 0) {
    return Fail(Errc::kInvalidArgument,
                "UTF-16 file has an odd number of bytes (truncated?)");
  }
  std::u16string units(body.size() / 2, u'\0');
  for (size_t i = 0; i < units.size(); ++i) {
    const auto lo = static_cast<uint8_t>(body[2 * i + (le ? 0 : 1)]);
    const auto hi = static_cast<uint8_t>(body[2 * i + (le ? 1 : 0)]);
    units[i] = static_cast<char16_t>(lo | (hi << 8));
  }
  auto out = Utf16ToUtf8(units);
  if (!out)
    return Fail(Errc::kInvalidArgument, "UTF-16 file is not valid UTF-16");
  return *out;
}

// Windows exports have been seen with a bare `&` in share names; XML
// readers reject those files. pugixml keeps an unrecognised reference as
// literal text, which is the intended value, so warn and carry on.
void WarnBareAmpersands(std::string_view text,
                        std::vector<std::string>& warnings) {
  for (size_t i = text.find('&'); i != text.npos; i = text.find('&', i + 1)) {
    size_t semi = text.find(';', i);
    bool known = false;
    if (semi != text.npos && semi - i <= 10) {
      std::string_view name = text.substr(i + 1, semi - i - 1);
      known = name == "amp" || name == "lt" || name == "gt" || name == "quot" ||
              name == "apos" || (name.size() > 1 && name[0] == '#');
    }
    if (!known) {
      warnings.push_back(At(text, static_cast<ptrdiff_t>(i)) +
                         "bare '&' read as a literal '&' (a known Windows "
                         "export bug)");
    }
  }
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  // Where an element starts: pugixml gives the offset of its name, one
  // byte after the '<'.
  std::string AtNode(const pugi::xml_node& node) const {
    ptrdiff_t offset = node.offset_debug();
    return At(text_, offset > 0 ? offset - 1 : offset);
  }
  Error ErrorAt(const pugi::xml_node& node, const std::string& what) const {
    return MakeError(Errc::kInvalidArgument, AtNode(node) + what);
  }
  void Warn(const pugi::xml_node& node, const std::string& what) {
    warnings_.push_back(AtNode(node) + what);
  }

  // The attribute named `name` (case-insensitive), or an empty one.
  pugi::xml_attribute Find(const pugi::xml_node& node,
                           std::string_view name) const {
    for (auto a : node.attributes()) {
      if (IEquals(a.name(), name)) return a;
    }
    return {};
  }

  void WarnUnknownAttributes(const pugi::xml_node& node,
                             std::initializer_list<std::string_view> known) {
    for (auto a : node.attributes()) {
      std::string_view name = a.name();
      if (name.substr(0, 6) == "xmlns:" || name == "xmlns") continue;
      bool ok =
          std::any_of(known.begin(), known.end(),
                      [&](std::string_view k) { return IEquals(k, name); });
      if (!ok) {
        Warn(node, "unknown attribute " + std::string(name) + " on <" +
                       node.name() + "> ignored");
      }
    }
  }

  Result<uint32_t> Number(const pugi::xml_node& node, std::string_view attr,
                          uint64_t max) const {
    std::string_view v = Find(node, attr).value();
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() ||
        n > max) {
      return Unexpected<Error>(ErrorAt(
          node, std::string(attr) + "=\"" + std::string(v.substr(0, 40)) +
                    "\" is not a number from 0 to " + std::to_string(max)));
    }
    return static_cast<uint32_t>(n);
  }

  // Root and Link states: ONLINE/OFFLINE, or MS-DFSNM volume states
  // (1 OK, 3 offline, 4 online).
  Result<State> VolumeState(const pugi::xml_node& node) const {
    auto attr = Find(node, "State");
    if (!attr) return State::kOnline;
    std::string_view v = attr.value();
    if (IEquals(v, "ONLINE") || v == "1" || v == "4") return State::kOnline;
    if (IEquals(v, "OFFLINE") || v == "3") return State::kOffline;
    return Unexpected<Error>(ErrorAt(
        node,
        "State=\"" + std::string(v) + "\" is not ONLINE, OFFLINE, 1, 3 or 4"));
  }

  // Target states: ONLINE/OFFLINE, or MS-DFSNM storage states (1 offline,
  // 2 online, with 4 "active" possibly OR-ed in).
  Result<State> StorageState(const pugi::xml_node& node) const {
    auto attr = Find(node, "State");
    if (!attr) return State::kOnline;
    std::string_view v = attr.value();
    if (IEquals(v, "ONLINE")) return State::kOnline;
    if (IEquals(v, "OFFLINE")) return State::kOffline;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (!v.empty() && ec == std::errc() && ptr == v.data() + v.size()) {
      if ((n & 3) == 2) return State::kOnline;
      if ((n & 3) == 1) return State::kOffline;
    }
    return Unexpected<Error>(
        ErrorAt(node, "target State=\"" + std::string(v) +
                          "\" is not ONLINE, OFFLINE, 1 or 2"));
  }

  Result<Target> ReadTarget(const pugi::xml_node& node) {
    WarnUnknownAttributes(
        node, {"State", "Server", "Folder", "PriorityClass", "PriorityRank",
               "dfs:PriorityClass", "dfs:PriorityRank", "dfs:Site"});
    std::string unc;
    std::string_view text = node.text().get();
    auto server = Find(node, "Server");
    if (!std::string_view(text).empty()) {
      unc = std::string(text);
      // Element text may carry the file's indentation.
      unc.erase(0, unc.find_first_not_of(" \t\r\n"));
      unc.erase(unc.find_last_not_of(" \t\r\n") + 1);
    } else if (server) {
      unc = "\\\\" + std::string(server.value()) + "\\" +
            std::string(Find(node, "Folder").value());
    } else {
      return Unexpected<Error>(ErrorAt(
          node,
          "<Target> has neither a path nor Server and Folder attributes"));
    }
    auto parsed = ParseTargetPath(unc);
    if (!parsed)
      return Unexpected<Error>(ErrorAt(node, parsed.error().Message()));
    Target t;
    t.server = parsed->server;
    t.share = parsed->share;
    DFS_ASSIGN_OR_RETURN(t.state, StorageState(node));
    for (std::string_view name : {"PriorityClass", "dfs:PriorityClass"}) {
      if (auto a = Find(node, name)) {
        auto cls = ParsePriorityClass(a.value());
        if (!cls)
          return Unexpected<Error>(ErrorAt(node, cls.error().Message()));
        t.priority_class = *cls;
      }
    }
    for (std::string_view name : {"PriorityRank", "dfs:PriorityRank"}) {
      if (Find(node, name)) {
        DFS_ASSIGN_OR_RETURN(uint32_t rank,
                             Number(node, name, kMaxPriorityRank));
        t.priority_rank = static_cast<uint8_t>(rank);
      }
    }
    if (auto a = Find(node, "dfs:Site")) {
      Status ok = ValidateSiteName(a.value());
      if (!ok) return Unexpected<Error>(ErrorAt(node, ok.error().Message()));
      t.site = a.value();
    }
    return t;
  }

  Status ReadTargets(const pugi::xml_node& parent, std::vector<Target>& out,
                     std::string_view owner) {
    std::unordered_set<std::string> seen;
    for (auto child : parent.children()) {
      if (child.type() != pugi::node_element) continue;
      if (!IEquals(child.name(), "Target")) continue;
      DFS_ASSIGN_OR_RETURN(Target t, ReadTarget(child));
      if (!seen.insert(t.Key()).second) {
        return ErrorAt(child,
                       t.Unc() + " is listed twice in " + std::string(owner));
      }
      if (out.size() == kMaxTargetsPerFolder) {
        return ErrorAt(child, std::string(owner) + " has more than " +
                                  std::to_string(kMaxTargetsPerFolder) +
                                  " targets");
      }
      out.push_back(std::move(t));
    }
    return Status::Ok();
  }

  Result<std::string> Comment(const pugi::xml_node& node) const {
    auto a = Find(node, "dfs:Comment");
    if (!a) a = Find(node, "Comment");
    if (!a) return std::string();
    Status ok = ValidateComment(a.value());
    if (!ok) return Unexpected<Error>(ErrorAt(node, ok.error().Message()));
    return std::string(a.value());
  }

  Status ReadLink(const pugi::xml_node& node, const std::string& root_path,
                  Folder& folder, std::string& key) {
    WarnUnknownAttributes(node, {"Name", "State", "Timeout", "Attributes",
                                 "Comment", "dfs:Comment", "dfs:Failback"});
    auto name = Find(node, "Name");
    if (!name || std::string_view(name.value()).empty()) {
      return ErrorAt(node, "<Link> has no Name");
    }
    const std::string_view name_text = name.value();
    if (name_text.size() >= 2 &&
        (name_text[0] == '\\' || name_text[0] == '/') &&
        (name_text[1] == '\\' || name_text[1] == '/')) {
      return ErrorAt(node, "<Link> Name " + std::string(name_text) +
                               " is a UNC path; it must be the folder's path "
                               "relative to the root (e.g. \"Site1\")");
    }
    auto parsed = ParseNamespacePath(root_path + "\\" + name.value());
    if (!parsed) return ErrorAt(node, parsed.error().Message());
    if (parsed->rest.empty()) return ErrorAt(node, "<Link> has an empty Name");
    folder.path = parsed->RestDisplay();
    key = parsed->RestFolded();
    DFS_ASSIGN_OR_RETURN(folder.state, VolumeState(node));
    if (Find(node, "Timeout")) {
      DFS_ASSIGN_OR_RETURN(folder.ttl_seconds,
                           Number(node, "Timeout", kMaxTtlSeconds));
    }
    uint32_t attributes = 0;
    if (Find(node, "Attributes")) {
      DFS_ASSIGN_OR_RETURN(attributes, Number(node, "Attributes", UINT32_MAX));
    }
    folder.failback =
        (attributes & kAttrFailback) ? Failback::kOn : Failback::kInherit;
    if (auto a = Find(node, "dfs:Failback")) {
      auto fb = ParseFailback(a.value());
      if (!fb) return ErrorAt(node, fb.error().Message());
      folder.failback = *fb;
    }
    DFS_ASSIGN_OR_RETURN(folder.comment, Comment(node));
    for (auto child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      if (IEquals(child.name(), "Link")) {
        return ErrorAt(
            child,
            "<Link> inside <Link>: a folder cannot lie inside another folder");
      }
      if (!IEquals(child.name(), "Target")) {
        Warn(child,
             "unknown element <" + std::string(child.name()) + "> ignored");
      }
    }
    DFS_RETURN_IF_ERROR(
        ReadTargets(node, folder.targets, "folder " + folder.path));
    if (folder.targets.empty()) {
      return ErrorAt(node, "folder " + folder.path + " has no targets");
    }
    return Status::Ok();
  }

  Result<XmlImport> Read(const pugi::xml_node& root) {
    XmlImport out;
    if (!IEquals(root.name(), "Root")) {
      return Unexpected<Error>(ErrorAt(root, "the document element is <" +
                                                 std::string(root.name()) +
                                                 ">, not <Root>"));
    }
    WarnUnknownAttributes(root,
                          {"Name", "State", "Timeout", "Attributes", "Comment",
                           "dfs:Comment", "dfs:Failback", "dfs:Ordering"});
    auto name = Find(root, "Name");
    if (!name) return Unexpected<Error>(ErrorAt(root, "<Root> has no Name"));
    auto path = ParseNamespacePath(name.value());
    if (!path) return Unexpected<Error>(ErrorAt(root, path.error().Message()));
    if (!path->rest.empty()) {
      return Unexpected<Error>(ErrorAt(
          root, "<Root> Name " + path->Display() + " is not \\\\host\\root"));
    }
    out.root_path = path->Display();
    Root& r = out.doc.root;
    r.host = path->host;
    r.name = path->root;
    DFS_ASSIGN_OR_RETURN(r.state, VolumeState(root));
    if (Find(root, "Timeout")) {
      DFS_ASSIGN_OR_RETURN(r.ttl_seconds,
                           Number(root, "Timeout", kMaxTtlSeconds));
    }
    if (Find(root, "Attributes")) {
      DFS_ASSIGN_OR_RETURN(uint32_t attributes,
                           Number(root, "Attributes", UINT32_MAX));
      r.failback = (attributes & kAttrFailback) != 0;
      r.ordering = (attributes & kAttrInSite) ? OrderingMethod::kInSiteOnly
                   : (attributes & kAttrSiteCosting)
                       ? OrderingMethod::kLowestCost
                       : OrderingMethod::kRandom;
    }
    if (auto a = Find(root, "dfs:Failback")) {
      auto on = ParseOnOff(a.value());
      if (!on) return Unexpected<Error>(ErrorAt(root, on.error().Message()));
      r.failback = *on;
    }
    if (auto a = Find(root, "dfs:Ordering")) {
      auto m = ParseOrderingMethod(a.value());
      if (!m) return Unexpected<Error>(ErrorAt(root, m.error().Message()));
      r.ordering = *m;
    }
    DFS_ASSIGN_OR_RETURN(r.comment, Comment(root));
    DFS_RETURN_IF_ERROR(ReadTargets(root, r.targets, "the root"));

    std::unordered_map<std::string, std::pair<size_t, pugi::xml_node>> keys;
    for (auto child : root.children()) {
      if (child.type() != pugi::node_element) continue;
      if (IEquals(child.name(), "Target")) continue;
      if (!IEquals(child.name(), "Link")) {
        Warn(child,
             "unknown element <" + std::string(child.name()) + "> ignored");
        continue;
      }
      Folder folder;
      std::string key;
      DFS_RETURN_IF_ERROR(ReadLink(child, out.root_path, folder, key));
      auto [it, inserted] =
          keys.emplace(key, std::make_pair(out.doc.folders.size(), child));
      if (!inserted) {
        return Unexpected<Error>(ErrorAt(
            child, "folder " + folder.path + " is listed twice (first at " +
                       AtNode(it->second.second) + "...)"));
      }
      out.doc.folders.push_back(std::move(folder));
    }
    // No folder may lie inside another: check every proper prefix.
    for (const auto& [key, where] : keys) {
      for (size_t sep = key.find('\\'); sep != key.npos;
           sep = key.find('\\', sep + 1)) {
        auto above = keys.find(key.substr(0, sep));
        if (above != keys.end()) {
          return Unexpected<Error>(ErrorAt(
              where.second, "folder " + out.doc.folders[where.first].path +
                                " lies inside folder " +
                                out.doc.folders[above->second.first].path +
                                "; folders cannot nest"));
        }
      }
    }
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  std::string_view text_;
  std::vector<std::string> warnings_;
};

}  // namespace

std::string ExportXml(const NamespaceDocument& doc, XmlDialect dialect) {
  const Root& r = doc.root;
  const bool downlevel = dialect == XmlDialect::kDownLevel;
  std::string out;
  out.reserve(256 + doc.folders.size() * 256);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root";
  Attr(out, "xmlns:dfs", kOurXmlns);
  Attr(out, "Name", r.Path());
  if (downlevel) {
    Attr(out, "State", r.state == State::kOnline ? 1 : 3);
  } else {
    Attr(out, "State", StateWord(r.state));
  }
  Attr(out, "Timeout", r.ttl_seconds);
  uint32_t attributes = (r.failback ? kAttrFailback : 0);
  if (r.ordering == OrderingMethod::kInSiteOnly) attributes |= kAttrInSite;
  if (r.ordering == OrderingMethod::kLowestCost) attributes |= kAttrSiteCosting;
  Attr(out, "Attributes", attributes);
  Attr(out, "dfs:Ordering", ToString(r.ordering));
  Attr(out, "dfs:Failback", r.failback ? "on" : "off");
  if (!r.comment.empty()) Attr(out, "dfs:Comment", r.comment);
  out += ">\n";
  for (const auto& t : r.targets) WriteTarget(out, t, dialect, "    ");
  for (const auto& f : doc.folders) {
    out += "    <Link";
    Attr(out, "Name", f.path);
    if (downlevel) {
      Attr(out, "State", f.state == State::kOnline ? 1 : 3);
    } else {
      Attr(out, "State", StateWord(f.state));
    }
    Attr(out, "Timeout", f.ttl_seconds);
    if (f.failback == Failback::kOn) Attr(out, "Attributes", kAttrFailback);
    Attr(out, "dfs:Failback", ToString(f.failback));
    if (!f.comment.empty()) Attr(out, "dfs:Comment", f.comment);
    out += ">\n";
    for (const auto& t : f.targets) WriteTarget(out, t, dialect, "        ");
    out += "    </Link>\n";
  }
  out += "</Root>\n";
  return out;
}

namespace {

// Character references to what XML does not allow (&#0;, most control
// characters, surrogates): pugixml decodes &#0; into a NUL that silently
// cut the name short.
Status CheckCharacterReferences(const std::string& text) {
  for (size_t at = text.find("&#"); at != std::string::npos;
       at = text.find("&#", at + 2)) {
    size_t i = at + 2;
    const bool hex = i < text.size() && (text[i] == 'x' || text[i] == 'X');
    if (hex) ++i;
    uint64_t value = 0;
    size_t digits = 0;
    for (; i < text.size() && digits < 16; ++i, ++digits) {
      const char c = text[i];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) break;
      value = value * (hex ? 16 : 10) + static_cast<uint64_t>(d);
    }
    if (digits == 0 || i >= text.size() || text[i] != ';') continue;
    const bool allowed = value == 0x9 || value == 0xA || value == 0xD ||
                         (value >= 0x20 && value <= 0xD7FF) ||
                         (value >= 0xE000 && value <= 0xFFFD) ||
                         (value >= 0x10000 && value <= 0x10FFFF);
    if (!allowed) {
      return Fail(Errc::kInvalidArgument, At(text, static_cast<ptrdiff_t>(at)) +
                                              "character reference " +
                                              text.substr(at, i + 1 - at) +
                                              " is not a character XML allows");
    }
  }
  return Status::Ok();
}

// XML forbids an attribute twice on one element; names are compared the
// way they are read here, case-insensitively. Iterative: a hostile file
// may nest deeply.
Status CheckAttributesUnique(const std::string& text, pugi::xml_node root) {
  std::vector<pugi::xml_node> pending = {root};
  while (!pending.empty()) {
    const pugi::xml_node node = pending.back();
    pending.pop_back();
    std::set<std::string> names;  // folded: linear in attributes
    for (auto a = node.first_attribute(); a; a = a.next_attribute()) {
      std::string folded = a.name();
      for (char& c : folded) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      if (!names.insert(std::move(folded)).second) {
        return Fail(Errc::kInvalidArgument,
                    At(text, node.offset_debug() - 1) + "attribute " +
                        a.name() + " appears twice on <" + node.name() + ">");
      }
    }
    for (auto c = node.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element) pending.push_back(c);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<XmlImport> ImportXml(std::string_view bytes) {
  if (bytes.size() > kMaxXmlBytes) {
    return Fail(Errc::kLimitExceeded, "the file is larger than " +
                                          std::to_string(kMaxXmlBytes >> 20) +
                                          " MiB");
  }
  DFS_ASSIGN_OR_RETURN(std::string text, ToUtf8(bytes));
  if (!IsValidUtf8(text)) {
    return Fail(Errc::kInvalidArgument,
                "the file is neither UTF-8 nor UTF-16 with a byte order mark");
  }
  DFS_RETURN_IF_ERROR(CheckCharacterReferences(text));
  std::vector<std::string> warnings;
  WarnBareAmpersands(text, warnings);
  pugi::xml_document xml;
  // The file's own encoding declaration is ignored: the text is UTF-8 now.
  pugi::xml_parse_result parsed = xml.load_buffer(
      text.data(), text.size(),
      pugi::parse_default & ~pugi::parse_wconv_attribute, pugi::encoding_utf8);
  if (!parsed) {
    // An error with nothing but white space after it is a cut-off file.
    const size_t rest =
        std::min(static_cast<size_t>(parsed.offset), text.size());
    const bool at_end =
        text.find_first_not_of(" \t\r\n", rest + 1) == std::string::npos &&
        parsed.status != pugi::status_no_document_element;
    return Fail(Errc::kInvalidArgument,
                At(text, parsed.offset) +
                    (at_end ? "the file ends early (truncated?): "
                            : "not well-formed XML: ") +
                    parsed.description());
  }
  pugi::xml_node root = xml.document_element();
  if (!root) return Fail(Errc::kInvalidArgument, "the file has no XML element");
  // XML has one document element; pugixml reads on past it. A second one
  // (or a second file pasted after the first) must not be ignored.
  for (auto node = root.next_sibling(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_element) {
      return Fail(Errc::kInvalidArgument,
                  At(text, node.offset_debug() - 1) +
                      "a second root element <" + node.name() +
                      "> after the first: one namespace per file");
    }
  }
  if (const size_t again = text.find("<?xml", 1); again != std::string::npos) {
    return Fail(Errc::kInvalidArgument,
                At(text, static_cast<ptrdiff_t>(again)) +
                    "a second XML declaration: one namespace per file");
  }
  DFS_RETURN_IF_ERROR(CheckAttributesUnique(text, root));
  Reader reader(text);
  DFS_ASSIGN_OR_RETURN(XmlImport out, reader.Read(root));
  warnings.insert(warnings.end(), out.warnings.begin(), out.warnings.end());
  out.warnings = std::move(warnings);
  return out;
}

}  // namespace dfs::ns
