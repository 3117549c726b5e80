// Signatures: what a receiver has, as chunk entries (XXH3-128 + length),
// and recursive levels above them as RDC builds them: level 1 is the
// encoded entry list of the data, level k+1 the entry list of level k's
// bytes chunked again (with smaller chunks). Only the top level is sent
// whole; a sender rebuilds the levels below from chunks it already has in
// its own signature and fetches only the rest, so two similar files cost a
// signature exchange proportional to their differences, not their size.
// Formats: replication/FORMAT.md.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/bytes.h"
#include "dfs/common/result.h"
#include "dfs/repl/chunker.h"
#include "dfs/repl/hash.h"

namespace dfs::repl {

struct ChunkEntry {
  Hash128 hash;
  uint32_t length = 0;
  bool operator==(const ChunkEntry&) const = default;
};

struct SignatureParams {
  ChunkParams data;
  // Levels above 1 chunk an entry stream (18-21 bytes an entry).
  ChunkParams sig{64, 256, 2048};
  // Levels are added until the top one is at most this big.
  uint32_t top_bytes = 8192;
};

inline constexpr size_t kMaxLevels = 8;
// A level stream (level 1 of a ~55 GB file at 4 KiB chunks).
inline constexpr size_t kMaxLevelBytes = size_t{256} << 20;
inline constexpr size_t kMaxEntries = kMaxLevelBytes / (kHashBytes + 1);

Status ValidateSignatureParams(const SignatureParams& params);

// The start of our files: an 8-byte magic, then a u16 version. Errors:
// kCorrupt (another magic: `what` names the file kind), kUnsupported.
Status ReadFileHead(ByteReader& in, std::string_view magic, uint16_t version,
                    std::string_view what);

// Chunk params on the wire and on disk: min, avg, max as u32 (FORMAT.md).
void EncodeChunkParams(ByteWriter& out, const ChunkParams& params);
Result<ChunkParams> DecodeChunkParams(ByteReader& in);

// Entry encoding: 16 hash bytes (low then high, little-endian) + varint
// length.
void AppendEntry(std::string& stream, const ChunkEntry& entry);
// Errors: kCorrupt (truncated, a length of 0 or above `max_length`),
// kLimitExceeded (more than kMaxEntries).
Result<std::vector<ChunkEntry>> DecodeEntries(std::string_view stream,
                                              uint32_t max_length);

// Chunks and hashes `data` (one file). With `threads` > 1 a large input is
// cut into segments chunked at the same time and stitched where their cut
// points meet the sequential ones: the result is exactly the sequential
// one, whatever the thread count.
std::vector<ChunkEntry> ChunkData(const ChunkParams& params,
                                  std::span<const uint8_t> data,
                                  unsigned threads = 1);
// Segments below this are not worth a thread.
inline constexpr size_t kMinParallelSegmentBytes = size_t{4} << 20;
// The threads a caller that has the machine to itself should use.
unsigned DefaultChunkThreads();
std::string EncodeEntries(const std::vector<ChunkEntry>& entries);

// Levels 1..n: `level1` first, each next the entries of the one below,
// until the top is at most params.top_bytes (or kMaxLevels, or
// `min_levels` when more are wanted).
std::vector<std::string> BuildLevels(std::string level1,
                                     const SignatureParams& params,
                                     size_t min_levels = 1);

// The signature file (`dfsdelta signature`): params, basis size and level 1.
struct SignatureFile {
  SignatureParams params;
  uint64_t basis_size = 0;
  std::vector<ChunkEntry> entries;
};
std::string EncodeSignatureFile(const SignatureFile& sig);
// Errors: kCorrupt (magic, truncation, lengths not summing to the basis
// size), kUnsupported (version), kLimitExceeded.
Result<SignatureFile> DecodeSignatureFile(std::string_view bytes);

}  // namespace dfs::repl
