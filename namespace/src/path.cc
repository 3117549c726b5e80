#include "dfs/ns/path.h"

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <array>

#include "dfs/common/error.h"

namespace dfs::ns {
namespace {

bool IsSeparator(char c) { return c == '\\' || c == '/'; }

std::string Quote(std::string_view s) {
  std::string out = "'";
  // Quote for a one-line error: control bytes would break the line.
  for (unsigned char c : s.substr(0, 80)) {
    if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

Status CheckHostName(std::string_view h);

Status CheckUtf8(std::string_view s, std::string_view component) {
  if (!IsValidUtf8(s)) {
    return Fail(Errc::kInvalidArgument,
                "path component " + Quote(component) + " is not valid UTF-8");
  }
  return Status::Ok();
}

// What a byte is, for the one pass NormalizeUnc makes over a path.
constexpr uint8_t kSeparatorBit = 1, kForbiddenBit = 2, kUpperBit = 4,
                  kNonAsciiBit = 8;
constexpr std::array<uint8_t, 256> kByteClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    if (c == '\\' || c == '/')
      t[c] = kSeparatorBit;
    else if (c < 0x20 || c == 0x7f || c == '"' || c == '*' || c == ':' ||
             c == '<' || c == '>' || c == '?' || c == '|')
      t[c] = kForbiddenBit;
    else if (c >= 'A' && c <= 'Z')
      t[c] = kUpperBit;
    else if (c >= 0x80)
      t[c] = kNonAsciiBit;
  }
  return t;
}();

// `seen` ORs the classes of the component's bytes.
Status CheckComponent(std::string_view c, bool is_host, uint8_t seen) {
  // The limit is in UTF-16 units (255 CJK characters are 765 bytes).
  if (c.size() > kMaxComponentBytes &&
      (!(seen & kNonAsciiBit) || Utf16Length(c) > kMaxComponentBytes)) {
    return Fail(
        Errc::kLimitExceeded,
        "path component " + Quote(c) + " is " +
            std::to_string((seen & kNonAsciiBit) ? Utf16Length(c) : c.size()) +
            " characters; the limit is " + std::to_string(kMaxComponentBytes));
  }
  if (c == "." || c == "..") {
    return Fail(Errc::kInvalidArgument,
                "path component " + Quote(c) + " is not allowed");
  }
  if (seen & kForbiddenBit) {
    for (unsigned char ch : c) {
      if (kByteClass[ch] & kForbiddenBit) {
        char hex[8];
        snprintf(hex, sizeof hex, "0x%02x", ch);
        return Fail(Errc::kInvalidArgument, std::string("character ") + hex +
                                                " is not allowed in " +
                                                "path component " + Quote(c));
      }
    }
  }
  if (c.back() == ' ' || c.back() == '.') {
    return Fail(Errc::kInvalidArgument,
                "path component " + Quote(c) +
                    " ends in a space or a dot, which Windows strips");
  }
  if (is_host) return CheckHostName(c);
  if (seen & kNonAsciiBit) return CheckUtf8(c, c);
  return Status::Ok();
}

}  // namespace

size_t Utf16Length(std::string_view utf8) {
  size_t units = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t n = static_cast<int32_t>(utf8.size());
  for (int32_t i = 0; i < n;) {
    UChar32 c;
    U8_NEXT(bytes, i, n, c);
    units += c > 0xFFFF ? 2 : 1;
  }
  return units;
}

std::optional<std::string> Utf16ToUtf8(std::u16string_view units) {
  const auto* data = reinterpret_cast<const UChar*>(units.data());
  const auto n = static_cast<int32_t>(units.size());
  UErrorCode status = U_ZERO_ERROR;
  int32_t needed = 0;
  u_strToUTF8(nullptr, 0, &needed, data, n, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status))
    return std::nullopt;
  std::string out(static_cast<size_t>(needed), '\0');
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), needed, nullptr, data, n, &status);
  if (U_FAILURE(status)) return std::nullopt;
  return out;
}

bool IsValidUtf8(std::string_view s) {
  int32_t i = 0;
  const int32_t n = static_cast<int32_t>(s.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(s.data());
  while (i < n) {
    UChar32 c;
    U8_NEXT(bytes, i, n, c);
    if (c < 0) return false;
  }
  return true;
}

void FoldCaseAppend(std::string_view utf8, std::string& out) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t n = static_cast<int32_t>(utf8.size());
  int32_t i = 0;
  // ASCII fast path: nearly every path in a web farm is ASCII, so lower a
  // whole run in place and only fall back to ICU at the first other byte.
  const size_t base = out.size();
  out.resize(base + utf8.size());
  char* dst = out.data() + base;
  while (i < n && bytes[i] < 0x80) {
    uint8_t b = bytes[i];
    dst[i] =
        static_cast<char>(static_cast<unsigned>(b - 'A') < 26u ? b + 32 : b);
    ++i;
  }
  out.resize(base + i);
  while (i < n) {
    uint8_t b = bytes[i];
    if (b < 0x80) {
      // ASCII fast path: nearly every path in a web farm is ASCII.
      out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    UChar32 c;
    U8_NEXT(bytes, i, n, c);
    if (c < 0) c = 0xFFFD;  // unreachable for validated input
    c = u_foldCase(c, U_FOLD_CASE_DEFAULT);
    uint8_t buf[4];
    int32_t len = 0;
    U8_APPEND_UNSAFE(buf, len, c);
    out.append(reinterpret_cast<const char*>(buf), len);
  }
}

std::string FoldCase(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  FoldCaseAppend(utf8, out);
  return out;
}

namespace {

// Validates without allocating: this runs on every lookup.
Status CheckHostName(std::string_view h) {
  if (h.empty()) return Fail(Errc::kInvalidArgument, "empty host name");
  if (h.size() > kMaxHostBytes) {
    return Fail(Errc::kLimitExceeded,
                "host name " + Quote(h) + " is longer than " +
                    std::to_string(kMaxHostBytes) + " bytes");
  }
  for (unsigned char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return Fail(Errc::kInvalidArgument,
                  "host name " + Quote(h) +
                      " may hold only letters, digits, '-', '_' and '.'");
    }
  }
  if (h.front() == '.' || h.back() == '.' || h.find("..") != h.npos) {
    return Fail(Errc::kInvalidArgument,
                "host name " + Quote(h) + " has an empty DNS label");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ParseHostName(std::string_view h) {
  DFS_RETURN_IF_ERROR(CheckHostName(h));
  return FoldCase(h);
}

Status NormalizeUnc(std::string_view input, size_t min_components,
                    NormalizedPath& out, PathUse use) {
  const bool lookup = use == PathUse::kLookup;
  if (lookup ? input.size() > kMaxLookupInputBytes
             : input.size() > kMaxPathBytes &&
                   Utf16Length(input) > kMaxPathBytes) {
    return Fail(Errc::kLimitExceeded, "path is " +
                                          std::to_string(Utf16Length(input)) +
                                          " characters; the limit is " +
                                          std::to_string(kMaxPathBytes));
  }
  if (input.size() < 2 || !IsSeparator(input[0]) || !IsSeparator(input[1])) {
    return Fail(Errc::kInvalidArgument,
                "path " + Quote(input) + " is not a UNC path (\\\\host\\...)");
  }
  out.display.clear();
  out.folded.clear();
  out.count = 0;
  size_t i = 0;
  const size_t n = input.size();
  while (i < n) {
    while (i < n && IsSeparator(input[i])) ++i;
    if (i == n) break;
    size_t start = i;
    uint8_t seen = 0;
    while (i < n) {
      const uint8_t cls = kByteClass[static_cast<uint8_t>(input[i])];
      if (cls & kSeparatorBit) break;
      seen |= cls;
      ++i;
    }
    std::string_view comp = input.substr(start, i - start);
    if (lookup && out.count >= 2) {
      // Past host and root, a lookup only needs the components that can
      // still name a folder: the first that cannot (too long, a bad
      // character, too deep) ends the part looked up; the rest is the
      // target server's business, not ours to refuse.
      if (out.count == 2 + kMaxFolderDepth ||
          !CheckComponent(comp, false, seen)) {
        break;
      }
    } else {
      if (out.count == kMaxComponents) {
        return Fail(Errc::kLimitExceeded, "path has more than " +
                                              std::to_string(kMaxComponents) +
                                              " components");
      }
      DFS_RETURN_IF_ERROR(CheckComponent(comp, out.count == 0, seen));
    }
    const size_t k = out.count++;
    out.display += '\\';
    out.folded += '\\';
    if (k == 0) {
      out.display += '\\';
      out.folded += '\\';
    }
    out.display_begin[k] = static_cast<uint16_t>(out.display.size());
    out.display += comp;
    out.display_end[k] = static_cast<uint16_t>(out.display.size());
    out.input_end[k] = static_cast<uint16_t>(i);
    out.folded_begin[k] = static_cast<uint16_t>(out.folded.size());
    if (seen & kNonAsciiBit) {
      FoldCaseAppend(comp, out.folded);
    } else {
      const size_t from = out.folded.size();
      out.folded += comp;
      if (seen & kUpperBit) {
        for (size_t j = from; j < out.folded.size(); ++j) {
          char& ch = out.folded[j];
          if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
        }
      }
    }
    out.folded_end[k] = static_cast<uint16_t>(out.folded.size());
  }
  if (out.count < min_components) {
    return Fail(Errc::kInvalidArgument,
                "path " + Quote(input) + " needs at least " +
                    std::to_string(min_components) + " components (" +
                    (min_components <= 2 ? "\\\\host\\name"
                                         : "\\\\host\\root\\folder") +
                    ")");
  }
  // Folding can grow a component (ICU folds some code points to longer
  // sequences); keep the offsets within the 16-bit fields.
  if (out.folded.size() > 0xffff) {
    return Fail(Errc::kLimitExceeded, "folded path is too long");
  }
  return Status::Ok();
}

std::string NamespacePath::RestDisplay() const {
  std::string out;
  for (const auto& c : rest) {
    if (!out.empty()) out += '\\';
    out += c;
  }
  return out;
}

std::string NamespacePath::RestFolded() const {
  std::string out;
  for (const auto& c : folded_rest) {
    if (!out.empty()) out += '\\';
    out += c;
  }
  return out;
}

std::string NamespacePath::Display() const {
  std::string out = "\\\\" + host + "\\" + root;
  for (const auto& c : rest) out += "\\" + c;
  return out;
}

Result<NamespacePath> ParseNamespacePath(std::string_view input) {
  NormalizedPath p;
  DFS_RETURN_IF_ERROR(NormalizeUnc(input, 2, p));
  if (p.count - 2 > kMaxFolderDepth) {
    return Fail(Errc::kLimitExceeded, "path " + p.display + " is more than " +
                                          std::to_string(kMaxFolderDepth) +
                                          " components below its root");
  }
  NamespacePath out;
  out.host = p.Display(0);
  out.folded_host = p.Folded(0);
  out.root = p.Display(1);
  out.folded_root = p.Folded(1);
  for (size_t i = 2; i < p.count; ++i) {
    out.rest.emplace_back(p.Display(i));
    out.folded_rest.emplace_back(p.Folded(i));
  }
  return out;
}

Result<TargetPath> ParseTargetPath(std::string_view input) {
  NormalizedPath p;
  DFS_RETURN_IF_ERROR(NormalizeUnc(input, 2, p));
  TargetPath out;
  out.server = p.Display(0);
  out.share = p.DisplayRange(1, p.count);
  out.folded = p.folded;
  return out;
}

}  // namespace dfs::ns
