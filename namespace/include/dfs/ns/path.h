// DFS path rules: parsing, validation and case folding of UNC paths.
//
// Paths are `\\host\root[\folder...]` for the namespace and
// `\\server\share[\path]` for targets. Either `\` or `/` separates
// components; repeated separators collapse and a trailing one is ignored.
// `.` and `..` components, control characters, the characters `"*:<>?|`,
// components ending in a space or a dot (Windows would silently strip
// them, making two names one), invalid UTF-8 and anything over the limits
// below are rejected with an error that names the offending part.
//
// Comparison is case-insensitive: every component has a folded form (ASCII
// lowercase, Unicode simple case folding via ICU for the rest), and keys
// are built from folded forms only.
// Thread-safety: pure functions; NormalizedPath is a value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"

namespace dfs::ns {

// Path and component limits count UTF-16 code units, as Windows does
// (the names keep "Bytes": for ASCII the two are the same).
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxComponentBytes = 255;
inline constexpr size_t kMaxHostBytes = 255;
inline constexpr size_t kMaxComponents = 64;
// Folder paths below a root: at most this many components.
inline constexpr size_t kMaxFolderDepth = 32;

// A parsed UNC path, kept in two forms: `display` (as given, separators
// normalised to `\`) and `folded` (case-folded, for comparison). Both are
// `\\c0\c1\...` with no trailing separator. Component i spans
// [display_begin[i], display_end[i]) in `display` and likewise in `folded`.
// Reusable: NormalizeUnc overwrites it, so a hot loop allocates nothing
// once the strings have grown.
struct NormalizedPath {
  std::string display;
  std::string folded;
  size_t count = 0;
  std::array<uint16_t, kMaxComponents> display_begin{}, display_end{};
  std::array<uint16_t, kMaxComponents> folded_begin{}, folded_end{};
  // Where component i ends in the string that was parsed, so a protocol
  // can say how much of the client's own text a match consumed.
  std::array<uint16_t, kMaxComponents> input_end{};

  std::string_view Display(size_t i) const {
    return std::string_view(display).substr(display_begin[i],
                                            display_end[i] - display_begin[i]);
  }
  std::string_view Folded(size_t i) const {
    return std::string_view(folded).substr(folded_begin[i],
                                           folded_end[i] - folded_begin[i]);
  }
  // Components [from, to) joined by `\`, without leading separators.
  std::string_view DisplayRange(size_t from, size_t to) const {
    return std::string_view(display).substr(
        display_begin[from], display_end[to - 1] - display_begin[from]);
  }
  std::string_view FoldedRange(size_t from, size_t to) const {
    return std::string_view(folded).substr(
        folded_begin[from], folded_end[to - 1] - folded_begin[from]);
  }
};

// Length of UTF-8 text in UTF-16 code units (how Windows and MS-DFSC
// count); a byte of invalid UTF-8 counts as one.
size_t Utf16Length(std::string_view utf8);

// What a path is parsed for. kName: a name to store or administer, every
// component checked. kLookup: a path a client asks about (a referral):
// host and root are checked; after them, parsing stops at the first
// component that could not name a folder (and after kMaxFolderDepth), so
// the rest of the path, the target server's business, is never refused.
enum class PathUse { kName, kLookup };
// The most a lookup parses (a 4,096-unit request is at most 3 bytes a
// unit in UTF-8), keeping every offset within 16 bits.
inline constexpr size_t kMaxLookupInputBytes = 3 * kMaxPathBytes + 8;

// Parses `input` as a UNC path with at least `min_components` components.
// Errors: kInvalidArgument (not UNC, bad component, bad host name, bad
// UTF-8), kLimitExceeded (a limit above). On error `out` is unspecified.
Status NormalizeUnc(std::string_view input, size_t min_components,
                    NormalizedPath& out, PathUse use = PathUse::kName);

// A namespace path: the root and, optionally, a path below it.
struct NamespacePath {
  std::string host, root;  // display case
  std::string folded_host, folded_root;
  std::vector<std::string> rest;  // components below the root, display case
  std::vector<std::string> folded_rest;

  // `\`-joined rest (display / folded); empty for the root itself.
  std::string RestDisplay() const;
  std::string RestFolded() const;
  std::string Display() const;
};
Result<NamespacePath> ParseNamespacePath(std::string_view input);

// A target path `\\server\share[\path]`.
struct TargetPath {
  std::string server;
  std::string share;   // share and sub-path, `\` separated, display case
  std::string folded;  // the whole folded path, for identity comparison
};
Result<TargetPath> ParseTargetPath(std::string_view input);

// Validates a host name (a NetBIOS or DNS name or an IPv4 address) and
// returns it folded.
Result<std::string> ParseHostName(std::string_view input);

// Whether `s` is well-formed UTF-8 (no overlongs, surrogates or values
// above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// UTF-16 code units -> UTF-8. Returns nullopt on an unpaired surrogate.
std::optional<std::string> Utf16ToUtf8(std::u16string_view units);

// Folds valid UTF-8 for case-insensitive comparison. Requires: `utf8` is
// valid UTF-8 (NormalizeUnc checks that before folding).
std::string FoldCase(std::string_view utf8);
void FoldCaseAppend(std::string_view utf8, std::string& out);

}  // namespace dfs::ns
