#include "dfs/repl/signature.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>

#include "dfs/common/bytes.h"

namespace dfs::repl {
namespace {

constexpr std::string_view kSignatureMagic = "DFSRSIG1";
constexpr uint16_t kSignatureVersion = 1;

void PutHash(std::string& out, const Hash128& h) {
  char buf[16];
  for (int i = 0; i < 8; ++i) {
    buf[i] = static_cast<char>(h.low >> (8 * i));
    buf[8 + i] = static_cast<char>(h.high >> (8 * i));
  }
  out.append(buf, 16);
}

}  // namespace

Status ReadFileHead(ByteReader& r, std::string_view magic, uint16_t version,
                    std::string_view what) {
  auto got = r.Raw("magic", magic.size());
  if (!got || *got != magic) {
    return Fail(Errc::kCorrupt,
                "not a dfs " + std::string(what) + " file (bad magic)");
  }
  DFS_ASSIGN_OR_RETURN(uint16_t got_version, r.U16("version"));
  if (got_version != version) {
    return Fail(Errc::kUnsupported,
                std::string(what) + " version " + std::to_string(got_version) +
                    ", this reads " + std::to_string(version));
  }
  return Status::Ok();
}

void EncodeChunkParams(ByteWriter& w, const ChunkParams& p) {
  w.U32(p.min);
  w.U32(p.avg);
  w.U32(p.max);
}

Result<ChunkParams> DecodeChunkParams(ByteReader& r) {
  ChunkParams p;
  DFS_ASSIGN_OR_RETURN(p.min, r.U32("chunk min"));
  DFS_ASSIGN_OR_RETURN(p.avg, r.U32("chunk avg"));
  DFS_ASSIGN_OR_RETURN(p.max, r.U32("chunk max"));
  return p;
}

Status ValidateSignatureParams(const SignatureParams& params) {
  DFS_RETURN_IF_ERROR(ValidateParams(params.data));
  DFS_RETURN_IF_ERROR(ValidateParams(params.sig));
  if (params.top_bytes < 256 || params.top_bytes > (1u << 20)) {
    return Fail(Errc::kInvalidArgument, "top level size must be 256 B..1 MiB");
  }
  return Status::Ok();
}

void AppendEntry(std::string& stream, const ChunkEntry& entry) {
  PutHash(stream, entry.hash);
  AppendVarint(stream, entry.length);
}

Result<std::vector<ChunkEntry>> DecodeEntries(std::string_view stream,
                                              uint32_t max_length) {
  if (stream.size() > kMaxLevelBytes) {
    return Fail(Errc::kLimitExceeded, "signature level larger than 256 MiB");
  }
  std::vector<ChunkEntry> out;
  out.reserve(stream.size() / (kHashBytes + 2));
  ByteReader r(stream);
  while (!r.empty()) {
    ChunkEntry e;
    DFS_ASSIGN_OR_RETURN(e.hash.low, r.U64("chunk hash"));
    DFS_ASSIGN_OR_RETURN(e.hash.high, r.U64("chunk hash"));
    DFS_ASSIGN_OR_RETURN(uint64_t length, r.Varint("chunk length"));
    if (length == 0 || length > max_length) {
      return Fail(Errc::kCorrupt, "chunk length " + std::to_string(length) +
                                      " outside 1.." +
                                      std::to_string(max_length));
    }
    e.length = static_cast<uint32_t>(length);
    out.push_back(e);
  }
  return out;
}

namespace {

// The chunks from `from` (taken as a cut point) until one ends at or past
// `until`, each cut as the sequential walk would cut it from there:
// NextCut sees the whole rest of `data`, not just the segment.
// Appends the chunk that starts at `at`; returns where the next one starts.
size_t AppendChunk(const ChunkParams& params, std::span<const uint8_t> data,
                   size_t at, std::vector<ChunkEntry>& out) {
  const size_t n = NextCut(params, data.data() + at, data.size() - at);
  out.push_back({HashBytes(data.data() + at, n), static_cast<uint32_t>(n)});
  return at + n;
}

std::vector<ChunkEntry> ChunkRange(const ChunkParams& params,
                                   std::span<const uint8_t> data, size_t from,
                                   size_t until) {
  std::vector<ChunkEntry> out;
  out.reserve((until - from) / params.avg + 1);
  for (size_t at = from; at < until;) at = AppendChunk(params, data, at, out);
  return out;
}

}  // namespace

unsigned DefaultChunkThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : std::min(n, 16u);
}

std::vector<ChunkEntry> ChunkData(const ChunkParams& params,
                                  std::span<const uint8_t> data,
                                  unsigned threads) {
  const size_t segments =
      std::min<size_t>(threads, data.size() / kMinParallelSegmentBytes);
  if (segments <= 1) return ChunkRange(params, data, 0, data.size());

  // Segment k starts at start[k], as if a chunk began there; its chunks
  // run until one crosses start[k + 1].
  std::vector<size_t> start(segments + 1);
  for (size_t k = 0; k <= segments; ++k) start[k] = data.size() * k / segments;
  std::vector<std::vector<ChunkEntry>> parts(segments);
  {
    std::vector<std::thread> workers;
    size_t spawned = 1;  // segments below this have a thread
    try {
      for (; spawned < segments; ++spawned) {
        workers.emplace_back([&, k = spawned] {
          parts[k] = ChunkRange(params, data, start[k], start[k + 1]);
        });
      }
    } catch (const std::system_error&) {
      // No more threads to be had: this one does the rest.
    }
    parts[0] = ChunkRange(params, data, 0, start[1]);
    for (size_t k = spawned; k < segments; ++k) {
      parts[k] = ChunkRange(params, data, start[k], start[k + 1]);
    }
    for (auto& w : workers) w.join();
  }

  // Stitch. Up to `at` the chunks are the sequential ones. Where `at` is
  // also a chunk start in the next segment, that segment's chunks are the
  // sequential ones from there too (NextCut depends only on where it
  // starts); until then, the sequential walk goes on here. A segment it
  // never meets (long runs with no cut point, all forced at max) is just
  // walked through.
  std::vector<ChunkEntry> out = std::move(parts[0]);
  size_t at = 0;
  for (const auto& e : out) at += e.length;
  for (size_t k = 1; k < segments; ++k) {
    size_t part_at = start[k];
    size_t i = 0;
    const auto& part = parts[k];
    while (i < part.size()) {
      if (part_at < at) {
        part_at += part[i++].length;
      } else if (part_at > at) {
        at = AppendChunk(params, data, at, out);
      } else {  // met: the rest of the segment is ours
        for (; i < part.size(); ++i) {
          out.push_back(part[i]);
          at += part[i].length;
        }
      }
    }
  }
  while (at < data.size()) at = AppendChunk(params, data, at, out);
  return out;
}

std::string EncodeEntries(const std::vector<ChunkEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * (kHashBytes + 3));
  for (const auto& e : entries) AppendEntry(out, e);
  return out;
}

std::vector<std::string> BuildLevels(std::string level1,
                                     const SignatureParams& params,
                                     size_t min_levels) {
  std::vector<std::string> levels;
  levels.push_back(std::move(level1));
  while (
      levels.size() < kMaxLevels &&
      (levels.back().size() > params.top_bytes || levels.size() < min_levels)) {
    const std::string& below = levels.back();
    levels.push_back(EncodeEntries(ChunkData(
        params.sig,
        {reinterpret_cast<const uint8_t*>(below.data()), below.size()})));
  }
  return levels;
}

std::string EncodeSignatureFile(const SignatureFile& sig) {
  ByteWriter w;
  w.Raw(kSignatureMagic);
  w.U16(kSignatureVersion);
  EncodeChunkParams(w, sig.params.data);
  EncodeChunkParams(w, sig.params.sig);
  w.U32(sig.params.top_bytes);
  w.U64(sig.basis_size);
  w.U64(sig.entries.size());
  std::string out = w.Take();
  for (const auto& e : sig.entries) AppendEntry(out, e);
  return out;
}

Result<SignatureFile> DecodeSignatureFile(std::string_view bytes) {
  ByteReader r(bytes);
  DFS_RETURN_IF_ERROR(
      ReadFileHead(r, kSignatureMagic, kSignatureVersion, "signature"));
  SignatureFile sig;
  DFS_ASSIGN_OR_RETURN(sig.params.data, DecodeChunkParams(r));
  DFS_ASSIGN_OR_RETURN(sig.params.sig, DecodeChunkParams(r));
  DFS_ASSIGN_OR_RETURN(sig.params.top_bytes, r.U32("top level size"));
  DFS_RETURN_IF_ERROR(ValidateSignatureParams(sig.params));
  DFS_ASSIGN_OR_RETURN(sig.basis_size, r.U64("basis size"));
  DFS_ASSIGN_OR_RETURN(uint64_t count, r.U64("chunk count"));
  if (count > kMaxEntries) {
    return Fail(Errc::kLimitExceeded,
                "signature lists more than the chunk limit");
  }
  DFS_ASSIGN_OR_RETURN(sig.entries,
                       DecodeEntries(bytes.substr(bytes.size() - r.remaining()),
                                     sig.params.data.max));
  if (sig.entries.size() != count) {
    return Fail(Errc::kCorrupt, "signature declares " + std::to_string(count) +
                                    " chunks and holds " +
                                    std::to_string(sig.entries.size()));
  }
  uint64_t total = 0;
  for (const auto& e : sig.entries) total += e.length;
  if (total != sig.basis_size) {
    return Fail(Errc::kCorrupt, "signature chunks sum to " +
                                    std::to_string(total) +
                                    " bytes, not the declared " +
                                    std::to_string(sig.basis_size));
  }
  return sig;
}

}  // namespace dfs::repl
