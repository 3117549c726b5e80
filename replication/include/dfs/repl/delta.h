// Deltas: how a sender describes its new file to a receiver that holds the
// basis a signature describes. The new file's chunks found in the basis
// become copy records (runs of basis chunk indices); the rest become
// literal records, zstd-compressed when that saves bytes. Records are
// self-contained, so a delta streams in pieces. Format: FORMAT.md.
// Thread-safety: a DeltaEncoder belongs to one thread; decoding is pure.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/repl/signature.h"

namespace dfs::repl {

// Raw bytes in one literal record (longer runs take several).
inline constexpr size_t kMaxLiteralBytes = size_t{1} << 20;
// Bytes a record batch holds before it is handed on.
inline constexpr size_t kRecordBatchBytes = size_t{1} << 20;
// ... or once it describes this much of the new file.
inline constexpr size_t kBatchCoverBytes = size_t{8} << 20;

struct DeltaHeader {
  uint64_t new_size = 0;
  Hash128 new_hash;
  uint64_t basis_chunks = 0;  // the basis the copies index into
};
inline constexpr size_t kDeltaHeaderBytes = 8 + 16 + 8;
std::string EncodeDeltaHeader(const DeltaHeader& header);
Result<DeltaHeader> DecodeDeltaHeader(std::string_view bytes);

struct DeltaStats {
  uint64_t copied_bytes = 0;
  uint64_t literal_bytes = 0;       // raw
  uint64_t literal_wire_bytes = 0;  // as sent (compressed or raw)
  uint64_t record_bytes = 0;        // every record byte
};

class DeltaEncoder {
 public:
  // `basis` is the receiver's chunk list. zstd_level 0 turns compression
  // off.
  DeltaEncoder(const std::vector<ChunkEntry>& basis, int zstd_level);
  // Encodes the new file (`data`, chunked as `chunks`), handing batches of
  // whole records (about kRecordBatchBytes each) to `emit`.
  void Encode(std::span<const uint8_t> data,
              const std::vector<ChunkEntry>& chunks,
              const std::function<void(std::string&&)>& emit);
  // The same a batch at a time, resuming where the last call stopped
  // (the same `data` and `chunks` each call): the next batch, or nothing
  // once the file is described. A sender produces records only as fast as
  // they leave, never the whole delta in memory.
  std::optional<std::string> NextBatch(std::span<const uint8_t> data,
                                       const std::vector<ChunkEntry>& chunks);
  const DeltaStats& stats() const { return stats_; }

 private:
  // Turns the pending literal run into records; with `whole_records_only`
  // a tail shorter than a full record stays pending.
  void FlushLiteral(std::string& out, bool whole_records_only);
  void FlushRun(std::string& out);
  // The basis chunk with this hash (and length), or none.
  std::optional<uint64_t> Find(const ChunkEntry& chunk) const;
  // Open addressing over basis indices + 1 (0 = empty), at most half full:
  // a million-chunk basis indexes in milliseconds, where a node-based map
  // spent a quarter of a second allocating (and as long freeing).
  // The receiver chose those hashes: slots come from both words mixed
  // with keys of our own, so a hostile basis cannot pile up in one probe
  // chain.
  size_t SlotOf(const Hash128& hash) const;
  std::vector<uint32_t> slots_;
  size_t slot_mask_ = 0;
  uint64_t slot_keys_[2] = {};
  const std::vector<ChunkEntry>& basis_;
  int zstd_level_;
  DeltaStats stats_;
  std::span<const uint8_t> pending_literal_;
  // Where NextBatch stands.
  size_t next_chunk_ = 0;
  uint64_t offset_ = 0, emitted_upto_ = 0;
  uint64_t run_first_ = 0, run_count_ = 0;
  bool finished_ = false;
};

struct DeltaOp {
  enum Kind { kCopy, kLiteral } kind = kCopy;
  uint64_t first = 0, count = 0;  // copy: basis chunks [first, first+count)
  std::string_view literal;       // literal: valid during the callback
};

// Decodes whole records, calling `apply` for each op; stops at the first
// error (from the bytes or from `apply`). Errors: kCorrupt (unknown record,
// truncation, a copy outside the basis, a literal that does not
// decompress to its declared size), kLimitExceeded.
Status DecodeRecords(std::string_view records, uint64_t basis_chunks,
                     const std::function<Status(const DeltaOp&)>& apply);

// The delta file (`dfsdelta delta`): magic, version, the chunk params the
// basis was cut with, header, records, end record.
std::string DeltaFilePrefix(const ChunkParams& basis_params,
                            const DeltaHeader& header);
inline constexpr char kEndRecord = 0;
struct DeltaFile {
  ChunkParams basis_params;
  DeltaHeader header;
  std::string_view records;  // without the end record
};
// Errors: kCorrupt, kUnsupported.
Result<DeltaFile> SplitDeltaFile(std::string_view bytes);

}  // namespace dfs::repl
