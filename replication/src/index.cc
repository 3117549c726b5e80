#include "dfs/repl/index.h"

#include <algorithm>

#include "dfs/common/error.h"
#include "dfs/repl/compress.h"

namespace dfs::repl {

// ------------------------------------------------------------ versions

uint64_t VersionVector::Get(std::string_view member) const {
  auto it = std::lower_bound(
      counters_.begin(), counters_.end(), member,
      [](const auto& entry, std::string_view m) { return entry.first < m; });
  return it != counters_.end() && it->first == member ? it->second : 0;
}

void VersionVector::Set(std::string_view member, uint64_t count) {
  auto it = std::lower_bound(
      counters_.begin(), counters_.end(), member,
      [](const auto& entry, std::string_view m) { return entry.first < m; });
  if (it != counters_.end() && it->first == member) {
    it->second = count;
  } else {
    counters_.insert(it, {std::string(member), count});
  }
}

void VersionVector::Bump(std::string_view member, uint64_t clock) {
  Set(member, std::max(Get(member) + 1, clock));
}

VersionVector VersionVector::Merge(const VersionVector& a,
                                   const VersionVector& b) {
  VersionVector out = a;
  for (const auto& [member, count] : b.counters_) {
    out.Set(member, std::max(out.Get(member), count));
  }
  return out;
}

Order Compare(const VersionVector& a, const VersionVector& b) {
  bool a_has_more = false, b_has_more = false;
  for (const auto& [member, count] : a.counters()) {
    if (count > b.Get(member)) a_has_more = true;
  }
  for (const auto& [member, count] : b.counters()) {
    if (count > a.Get(member)) b_has_more = true;
  }
  if (a_has_more && b_has_more) return Order::kConcurrent;
  if (a_has_more) return Order::kNewer;
  if (b_has_more) return Order::kOlder;
  return Order::kEqual;
}

// ------------------------------------------------------------ paths

Status ValidateMemberName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMemberNameBytes) {
    return Fail(Errc::kCorrupt, "a member name must be 1 to " +
                                    std::to_string(kMaxMemberNameBytes) +
                                    " bytes");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok)
      return Fail(Errc::kCorrupt, "a member name of [A-Za-z0-9._-] only");
  }
  return Status::Ok();
}

Status ValidateRelativePath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return Fail(
        Errc::kInvalidArgument,
        "refusing the path '" + std::string(path.substr(0, 200)) + "': " + why);
  };
  if (path.empty()) return bad("it is empty");
  if (path.size() > kMaxPathBytes) {
    return bad("longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (path.front() == '/') return bad("it is absolute");
  size_t depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty()) return bad("an empty component");
    if (part == "." || part == "..") return bad("a '.' or '..' component");
    if (part.size() > kMaxPathComponentBytes) {
      return bad("a component longer than " +
                 std::to_string(kMaxPathComponentBytes) + " bytes");
    }
    if (part.find('\0') != std::string_view::npos) return bad("a NUL byte");
    if (part.find('\\') != std::string_view::npos) return bad("a backslash");
    if (depth == 0 && part == kPrivateFolder) {
      return bad("inside the member's private folder");
    }
    if (++depth > kMaxPathDepth) {
      return bad("deeper than " + std::to_string(kMaxPathDepth));
    }
    start = end + 1;
  }
  return Status::Ok();
}

// ------------------------------------------------------------ records

namespace {

constexpr uint8_t kDeleted = 1, kDirectory = 2, kResolvedConflict = 4;

// A u32 count, refused above `limit` before anything is allocated for it.
Result<uint32_t> ReadCount(ByteReader& in, uint32_t limit, const char* what) {
  DFS_ASSIGN_OR_RETURN(uint32_t n, in.U32(what));
  if (n > limit) {
    return Fail(Errc::kLimitExceeded, std::to_string(n) + " " + what +
                                          "; the limit is " +
                                          std::to_string(limit));
  }
  return n;
}

void EncodeHash(ByteWriter& out, const Hash128& h) {
  out.U64(h.low);
  out.U64(h.high);
}

Result<Hash128> DecodeHash(ByteReader& in) {
  Hash128 h;
  DFS_ASSIGN_OR_RETURN(h.low, in.U64("hash"));
  DFS_ASSIGN_OR_RETURN(h.high, in.U64("hash"));
  return h;
}

}  // namespace

void EncodeRecord(ByteWriter& out, const FileRecord& r) {
  out.String(r.path);
  out.U32(static_cast<uint32_t>(r.version.counters().size()));
  for (const auto& [member, count] : r.version.counters()) {
    out.String(member);
    out.Varint(count);
  }
  out.U8((r.deleted ? kDeleted : 0) | (r.is_dir ? kDirectory : 0) |
         (r.resolved_conflict ? kResolvedConflict : 0));
  EncodeHash(out, r.hash);
  out.Varint(r.size);
  out.U64(static_cast<uint64_t>(r.mtime_ns));
  out.U32(r.mode);
  out.U64(static_cast<uint64_t>(r.deleted_at_ms));
  out.String(r.modified_by);
  out.Varint(r.seq);
}

Result<FileRecord> DecodeRecord(ByteReader& in) {
  FileRecord r;
  DFS_ASSIGN_OR_RETURN(r.path, in.String("path", kMaxPathBytes));
  DFS_RETURN_IF_ERROR(ValidateRelativePath(r.path));
  DFS_ASSIGN_OR_RETURN(uint32_t members, in.U32("version size"));
  if (members > kMaxMembers) {
    return Fail(Errc::kLimitExceeded,
                "a version of " + std::to_string(members) +
                    " members; the limit is " + std::to_string(kMaxMembers));
  }
  std::string previous;
  for (uint32_t i = 0; i < members; ++i) {
    DFS_ASSIGN_OR_RETURN(std::string member,
                         in.String("member", kMaxMemberNameBytes));
    DFS_RETURN_IF_ERROR(ValidateMemberName(member));
    if (i > 0 && member <= previous) {
      return Fail(Errc::kCorrupt, "version members out of order");
    }
    DFS_ASSIGN_OR_RETURN(uint64_t count, in.Varint("version count"));
    r.version.Set(member, count);
    previous = std::move(member);
  }
  DFS_ASSIGN_OR_RETURN(uint8_t flags, in.U8("flags"));
  if (flags & ~(kDeleted | kDirectory | kResolvedConflict)) {
    return Fail(Errc::kCorrupt, "unknown record flags");
  }
  r.deleted = flags & kDeleted;
  r.is_dir = flags & kDirectory;
  r.resolved_conflict = flags & kResolvedConflict;
  DFS_ASSIGN_OR_RETURN(r.hash, DecodeHash(in));
  DFS_ASSIGN_OR_RETURN(r.size, in.Varint("size"));
  DFS_ASSIGN_OR_RETURN(uint64_t mtime, in.U64("mtime"));
  r.mtime_ns = static_cast<int64_t>(mtime);
  DFS_ASSIGN_OR_RETURN(r.mode, in.U32("mode"));
  if (r.mode > 07777) return Fail(Errc::kCorrupt, "a mode beyond 07777");
  DFS_ASSIGN_OR_RETURN(uint64_t deleted_at, in.U64("deletion time"));
  r.deleted_at_ms = static_cast<int64_t>(deleted_at);
  DFS_ASSIGN_OR_RETURN(r.modified_by,
                       in.String("modified by", kMaxMemberNameBytes));
  if (!r.modified_by.empty()) {
    DFS_RETURN_IF_ERROR(ValidateMemberName(r.modified_by));
  }
  DFS_ASSIGN_OR_RETURN(r.seq, in.Varint("sequence"));
  return r;
}

std::string EncodeRecord(const FileRecord& record) {
  ByteWriter out;
  EncodeRecord(out, record);
  return out.Take();
}

Result<FileRecord> DecodeRecord(std::string_view bytes) {
  ByteReader in(bytes);
  DFS_ASSIGN_OR_RETURN(FileRecord r, DecodeRecord(in));
  DFS_RETURN_IF_ERROR(in.ExpectEnd("record"));
  return r;
}

// ------------------------------------------------------------ messages

std::string EncodeIndexRequest(const IndexRequest& request) {
  ByteWriter out;
  out.String(request.member);
  out.U64(request.since);
  out.U32(request.max_records);
  return out.Take();
}

Result<IndexRequest> DecodeIndexRequest(std::string_view bytes) {
  ByteReader in(bytes);
  IndexRequest r;
  DFS_ASSIGN_OR_RETURN(r.member, in.String("member", kMaxMemberNameBytes));
  DFS_RETURN_IF_ERROR(ValidateMemberName(r.member));
  DFS_ASSIGN_OR_RETURN(r.since, in.U64("since"));
  DFS_ASSIGN_OR_RETURN(r.max_records, in.U32("max records"));
  r.max_records = std::min<uint32_t>(r.max_records, kMaxIndexRecords);
  DFS_RETURN_IF_ERROR(in.ExpectEnd("index request"));
  return r;
}

std::string EncodeIndexReply(const IndexReply& reply) {
  ByteWriter out;
  out.String(reply.member);
  out.U64(reply.high_seq);
  out.U32(static_cast<uint32_t>(reply.records.size()));
  for (const auto& r : reply.records) EncodeRecord(out, r);
  return out.Take();
}

Result<IndexReply> DecodeIndexReply(std::string_view bytes) {
  ByteReader in(bytes);
  IndexReply reply;
  DFS_ASSIGN_OR_RETURN(reply.member, in.String("member", kMaxMemberNameBytes));
  DFS_RETURN_IF_ERROR(ValidateMemberName(reply.member));
  DFS_ASSIGN_OR_RETURN(reply.high_seq, in.U64("high sequence"));
  DFS_ASSIGN_OR_RETURN(uint32_t n,
                       ReadCount(in, kMaxIndexRecords, "index records"));
  uint64_t last_seq = 0;
  for (uint32_t i = 0; i < n; ++i) {
    DFS_ASSIGN_OR_RETURN(FileRecord r, DecodeRecord(in));
    if (r.seq <= last_seq || r.seq > reply.high_seq) {
      return Fail(Errc::kCorrupt, "index records out of sequence");
    }
    last_seq = r.seq;
    reply.records.push_back(std::move(r));
  }
  DFS_RETURN_IF_ERROR(in.ExpectEnd("index reply"));
  return reply;
}

std::string EncodeFileRequest(const FileRequest& request) {
  ByteWriter out;
  out.String(request.path);
  EncodeHash(out, request.hash);
  return out.Take();
}

Result<FileRequest> DecodeFileRequest(std::string_view bytes) {
  ByteReader in(bytes);
  FileRequest r;
  DFS_ASSIGN_OR_RETURN(r.path, in.String("path", kMaxPathBytes));
  DFS_RETURN_IF_ERROR(ValidateRelativePath(r.path));
  DFS_ASSIGN_OR_RETURN(r.hash, DecodeHash(in));
  DFS_RETURN_IF_ERROR(in.ExpectEnd("file request"));
  return r;
}

// ------------------------------------------------------------ batches

std::string EncodeBatchRequest(const BatchRequest& request) {
  ByteWriter out;
  out.U32(static_cast<uint32_t>(request.files.size()));
  for (const auto& f : request.files) {
    out.String(f.path);
    EncodeHash(out, f.want);
    EncodeHash(out, f.have);
  }
  return out.Take();
}

Result<BatchRequest> DecodeBatchRequest(std::string_view bytes) {
  ByteReader in(bytes);
  BatchRequest request;
  DFS_ASSIGN_OR_RETURN(uint32_t n,
                       ReadCount(in, kMaxBatchEntries, "batched files"));
  for (uint32_t i = 0; i < n; ++i) {
    BatchWant w;
    DFS_ASSIGN_OR_RETURN(w.path, in.String("path", kMaxPathBytes));
    DFS_RETURN_IF_ERROR(ValidateRelativePath(w.path));
    DFS_ASSIGN_OR_RETURN(w.want, DecodeHash(in));
    DFS_ASSIGN_OR_RETURN(w.have, DecodeHash(in));
    request.files.push_back(std::move(w));
  }
  DFS_RETURN_IF_ERROR(in.ExpectEnd("batch request"));
  return request;
}

std::string EncodeBatchReply(const BatchReply& reply) {
  ByteWriter out;
  out.U32(static_cast<uint32_t>(reply.files.size()));
  for (const auto& f : reply.files) {
    out.String(f.path);
    out.U8(static_cast<uint8_t>(f.encoding));
    out.Varint(f.size);
    out.String(f.data);
  }
  return out.Take();
}

Result<BatchReply> DecodeBatchReply(std::string_view bytes) {
  ByteReader in(bytes);
  BatchReply reply;
  DFS_ASSIGN_OR_RETURN(uint32_t n,
                       ReadCount(in, kMaxBatchEntries, "batched files"));
  size_t total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    BatchFile f;
    DFS_ASSIGN_OR_RETURN(f.path, in.String("path", kMaxPathBytes));
    DFS_RETURN_IF_ERROR(ValidateRelativePath(f.path));
    DFS_ASSIGN_OR_RETURN(uint8_t encoding, in.U8("encoding"));
    if (encoding > static_cast<uint8_t>(BatchEncoding::kAgainstOld)) {
      return Fail(Errc::kCorrupt, "an unknown batch encoding");
    }
    f.encoding = static_cast<BatchEncoding>(encoding);
    DFS_ASSIGN_OR_RETURN(f.size, in.Varint("size"));
    if (f.size > kMaxBatchFileBytes) {
      return Fail(Errc::kLimitExceeded,
                  "a batched file of " + std::to_string(f.size) + " bytes");
    }
    total += f.size;
    if (total > kMaxBatchBytes) {
      return Fail(Errc::kLimitExceeded,
                  "a batch over " + std::to_string(kMaxBatchBytes) + " bytes");
    }
    DFS_ASSIGN_OR_RETURN(f.data, in.String("data", kMaxBatchBytes));
    reply.files.push_back(std::move(f));
  }
  DFS_RETURN_IF_ERROR(in.ExpectEnd("batch reply"));
  return reply;
}

std::string Pack(std::string_view message) {
  std::string out;
  AppendVarint(out, message.size());
  out += Compress(message, 3);
  return out;
}

Result<std::string> Unpack(std::string_view packed, size_t max_bytes) {
  ByteReader in(packed);
  DFS_ASSIGN_OR_RETURN(uint64_t size, in.Varint("packed size"));
  DFS_ASSIGN_OR_RETURN(std::string_view frame,
                       in.Raw("packed", in.remaining()));
  return Decompress(frame, size, max_bytes);
}

}  // namespace dfs::repl
