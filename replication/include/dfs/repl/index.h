// What members of a replication group (dfsrd) say to each other about
// their files: a record per path with its version vector, and the index
// exchange that carries records by the sender's local sequence number.
// Pure codecs with named limits (every peer byte is hostile until it
// decodes and its path validates); fuzz target:
// tests/fuzz/repl_index_fuzz.cc. Formats: replication/FORMAT.md, "dfsrd".
// Thread-safety: pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dfs/common/bytes.h"
#include "dfs/common/result.h"
#include "dfs/repl/hash.h"

namespace dfs::repl {

inline constexpr size_t kMaxMemberNameBytes = 64;
inline constexpr size_t kMaxMembers = 64;
// LMDB keys hold at most 511 bytes; the content index prefixes a path
// with its 16-byte hash. Longer paths are skipped with a warning.
inline constexpr size_t kMaxPathBytes = 480;
inline constexpr size_t kMaxPathComponentBytes = 255;
inline constexpr size_t kMaxPathDepth = 128;
inline constexpr size_t kMaxIndexRecords = 4096;
// A member's private folder inside the replicated one: never replicated.
inline constexpr std::string_view kPrivateFolder = ".dfsrd";

// Member name -> count of that member's changes this version includes.
class VersionVector {
 public:
  uint64_t Get(std::string_view member) const;
  // One more change by `member`: its counter becomes the larger of one
  // more and `clock` (dfsrd passes its clock in seconds). Counters that
  // move with the clock keep a path re-created after its tombstone was
  // purged ahead of any version of it a long-absent member still holds
  // (with per-path counts it would start again at 1, and that member's
  // old deletion would win over the new file).
  void Bump(std::string_view member, uint64_t clock = 0);
  void Set(std::string_view member, uint64_t count);
  static VersionVector Merge(const VersionVector& a, const VersionVector& b);
  const std::vector<std::pair<std::string, uint64_t>>& counters() const {
    return counters_;
  }
  bool empty() const { return counters_.empty(); }
  bool operator==(const VersionVector&) const = default;

 private:
  std::vector<std::pair<std::string, uint64_t>> counters_;  // by member
};

enum class Order { kEqual, kNewer, kOlder, kConcurrent };
// How `a` relates to `b`: kNewer when `a` includes every change of `b` and
// more.
Order Compare(const VersionVector& a, const VersionVector& b);

struct FileRecord {
  std::string path;  // relative, '/'-separated (ValidateRelativePath)
  VersionVector version;
  bool deleted = false;
  bool is_dir = false;
  Hash128 hash;  // of the content; zero for directories and deletions
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0644;  // permission bits only
  int64_t deleted_at_ms = 0;
  std::string modified_by;  // the member whose change this content is
  // This version won a conflict against another: the member that held the
  // loser keeps its copy when this version replaces it.
  bool resolved_conflict = false;
  uint64_t seq = 0;  // the holder's local sequence number of this record
  bool operator==(const FileRecord&) const = default;
};

// A path a peer may name: relative, components separated by '/', none
// empty, "." or "..", no NUL or '\', at most kMaxPathComponentBytes a
// component, kMaxPathBytes and kMaxPathDepth in all, and not inside
// kPrivateFolder. Errors: kInvalidArgument saying why.
Status ValidateRelativePath(std::string_view path);
// 1..kMaxMemberNameBytes of [A-Za-z0-9._-] (names become parts of file
// names in the conflicts folder). Errors: kCorrupt.
Status ValidateMemberName(std::string_view name);

void EncodeRecord(ByteWriter& out, const FileRecord& record);
// Errors: kCorrupt, kLimitExceeded, kInvalidArgument (a bad path).
Result<FileRecord> DecodeRecord(ByteReader& in);
std::string EncodeRecord(const FileRecord& record);
Result<FileRecord> DecodeRecord(std::string_view bytes);

// "What changed since your sequence number `since`?", from `member` (so
// the answerer knows how far each peer has pulled it: dfsrd status).
struct IndexRequest {
  std::string member;
  uint64_t since = 0;
  uint32_t max_records = kMaxIndexRecords;
};
std::string EncodeIndexRequest(const IndexRequest& request);
Result<IndexRequest> DecodeIndexRequest(std::string_view bytes);

// The answer: records with seq > since in seq order, at most max_records;
// `high_seq` is the sender's latest (more to ask for when the last
// record's seq is below it).
struct IndexReply {
  std::string member;
  uint64_t high_seq = 0;
  std::vector<FileRecord> records;
};
std::string EncodeIndexReply(const IndexReply& reply);
Result<IndexReply> DecodeIndexReply(std::string_view bytes);

// "Send me `path` as it is at `hash`": the sync exchange (sync.h) follows,
// the asker as receiver.
struct FileRequest {
  std::string path;
  Hash128 hash;
};
std::string EncodeFileRequest(const FileRequest& request);
Result<FileRequest> DecodeFileRequest(std::string_view bytes);

// Small files travel in batches: many in one exchange, each compressed
// against the old version the asker holds (zstd patch-from) when the
// answerer still has that version, else on its own.
inline constexpr uint64_t kMaxBatchFileBytes = uint64_t{1} << 20;
inline constexpr size_t kMaxBatchEntries = 512;
inline constexpr size_t kMaxBatchBytes = size_t{8} << 20;

struct BatchWant {
  std::string path;
  Hash128 want;  // the content announced
  Hash128 have;  // the asker's current content (zero: none)
};
struct BatchRequest {
  std::vector<BatchWant> files;
};

enum class BatchEncoding : uint8_t {
  kMissing = 0,    // not here as announced any more: ask again later
  kWhole = 1,      // zstd of the file
  kAgainstOld = 2  // zstd of the file against the asker's `have` content
};
struct BatchFile {
  std::string path;
  BatchEncoding encoding = BatchEncoding::kMissing;
  uint64_t size = 0;  // of the file
  std::string data;   // the zstd frame
};
struct BatchReply {
  std::vector<BatchFile> files;
};

std::string EncodeBatchRequest(const BatchRequest& request);
Result<BatchRequest> DecodeBatchRequest(std::string_view bytes);
std::string EncodeBatchReply(const BatchReply& reply);
// Errors: kCorrupt, kLimitExceeded (more than kMaxBatchEntries files, a
// file over kMaxBatchFileBytes, more than kMaxBatchBytes in all).
Result<BatchReply> DecodeBatchReply(std::string_view bytes);

// A message as it crosses the wire: its size, then zstd of it (index
// replies and batch requests are mostly paths that share their prefixes).
std::string Pack(std::string_view message);
// Errors: kCorrupt, kLimitExceeded (over `max_bytes` unpacked).
Result<std::string> Unpack(std::string_view packed, size_t max_bytes);

}  // namespace dfs::repl
