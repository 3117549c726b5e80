#include "dfs/repl/delta.h"

#include <zstd.h>

#include <cstring>
#include <random>

#include "dfs/common/bytes.h"

namespace dfs::repl {
namespace {

constexpr std::string_view kDeltaMagic = "DFSRDLT1";
constexpr uint16_t kDeltaVersion = 1;
enum RecordType : uint8_t { kCopy = 1, kLiteral = 2, kLiteralZstd = 3 };

struct Cctx {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~Cctx() { ZSTD_freeCCtx(ctx); }
};
struct Dctx {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~Dctx() { ZSTD_freeDCtx(ctx); }
};

}  // namespace

std::string EncodeDeltaHeader(const DeltaHeader& h) {
  ByteWriter w;
  w.U64(h.new_size);
  w.U64(h.new_hash.low);
  w.U64(h.new_hash.high);
  w.U64(h.basis_chunks);
  return w.Take();
}

Result<DeltaHeader> DecodeDeltaHeader(std::string_view bytes) {
  ByteReader r(bytes);
  DeltaHeader h;
  DFS_ASSIGN_OR_RETURN(h.new_size, r.U64("new size"));
  DFS_ASSIGN_OR_RETURN(h.new_hash.low, r.U64("new hash"));
  DFS_ASSIGN_OR_RETURN(h.new_hash.high, r.U64("new hash"));
  DFS_ASSIGN_OR_RETURN(h.basis_chunks, r.U64("basis chunks"));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("delta header"));
  if (h.basis_chunks > kMaxEntries) {
    return Fail(Errc::kLimitExceeded,
                "delta names a basis above the chunk limit");
  }
  return h;
}

DeltaEncoder::DeltaEncoder(const std::vector<ChunkEntry>& basis, int zstd_level)
    : basis_(basis), zstd_level_(zstd_level) {
  static_assert(kMaxEntries < UINT32_MAX, "basis indices fit the slots");
  size_t capacity = 16;
  while (capacity < basis.size() * 2) capacity *= 2;
  slots_.assign(capacity, 0);
  slot_mask_ = capacity - 1;
  std::random_device random;
  for (auto& key : slot_keys_)
    key = (uint64_t{random()} << 32 | random()) | 1;  // odd multipliers
  for (uint64_t i = 0; i < basis.size(); ++i) {
    // The first of equal chunks keeps the slot.
    for (size_t s = SlotOf(basis[i].hash);; s = (s + 1) & slot_mask_) {
      if (slots_[s] == 0) {
        slots_[s] = static_cast<uint32_t>(i + 1);
        break;
      }
      if (basis_[slots_[s] - 1].hash == basis[i].hash) break;
    }
  }
}

size_t DeltaEncoder::SlotOf(const Hash128& hash) const {
  const uint64_t mixed = hash.low * slot_keys_[0] + hash.high * slot_keys_[1];
  return static_cast<size_t>(mixed >> 32) & slot_mask_;
}

std::optional<uint64_t> DeltaEncoder::Find(const ChunkEntry& chunk) const {
  for (size_t s = SlotOf(chunk.hash);; s = (s + 1) & slot_mask_) {
    if (slots_[s] == 0) return std::nullopt;
    const uint64_t i = slots_[s] - 1;
    if (basis_[i].hash == chunk.hash) {
      if (basis_[i].length != chunk.length) return std::nullopt;
      return i;
    }
  }
}

void DeltaEncoder::FlushLiteral(std::string& out, bool whole_records_only) {
  static thread_local Cctx cctx;
  static thread_local std::string compressed;
  auto rest = pending_literal_;
  pending_literal_ = {};
  while (!rest.empty()) {
    if (whole_records_only && rest.size() < kMaxLiteralBytes) {
      pending_literal_ = rest;  // the tail waits for the rest of its run
      return;
    }
    const size_t n = std::min(rest.size(), kMaxLiteralBytes);
    const size_t before = out.size();
    bool done = false;
    if (zstd_level_ > 0) {
      compressed.resize(ZSTD_compressBound(n));
      const size_t c =
          ZSTD_compressCCtx(cctx.ctx, compressed.data(), compressed.size(),
                            rest.data(), n, zstd_level_);
      // Only when it pays: incompressible data goes raw.
      if (!ZSTD_isError(c) && c + 8 < n - n / 32) {
        out.push_back(static_cast<char>(kLiteralZstd));
        AppendVarint(out, n);
        AppendVarint(out, c);
        out.append(compressed.data(), c);
        stats_.literal_wire_bytes += c;
        done = true;
      }
    }
    if (!done) {
      out.push_back(static_cast<char>(kLiteral));
      AppendVarint(out, n);
      out.append(reinterpret_cast<const char*>(rest.data()), n);
      stats_.literal_wire_bytes += n;
    }
    stats_.literal_bytes += n;
    stats_.record_bytes += out.size() - before;
    rest = rest.subspan(n);
  }
}

void DeltaEncoder::FlushRun(std::string& out) {
  if (run_count_ == 0) return;
  const size_t before = out.size();
  out.push_back(static_cast<char>(kCopy));
  AppendVarint(out, run_first_);
  AppendVarint(out, run_count_);
  stats_.record_bytes += out.size() - before;
  run_count_ = 0;
}

std::optional<std::string> DeltaEncoder::NextBatch(
    std::span<const uint8_t> data, const std::vector<ChunkEntry>& chunks) {
  if (finished_) return std::nullopt;
  std::string out;
  while (next_chunk_ < chunks.size()) {
    const ChunkEntry& c = chunks[next_chunk_++];
    // The basis chunk after the run is the likeliest match (and, of equal
    // chunks, the one that keeps the run going): try it before the index.
    const uint64_t next = run_first_ + run_count_;
    std::optional<uint64_t> found;
    if (run_count_ > 0 && next < basis_.size() && basis_[next] == c) {
      found = next;
    } else {
      found = Find(c);
    }
    if (found) {
      if (!pending_literal_.empty()) FlushLiteral(out, false);
      if (run_count_ > 0 && *found == next) {
        ++run_count_;
      } else {
        FlushRun(out);
        run_first_ = *found;
        run_count_ = 1;
      }
      stats_.copied_bytes += c.length;
    } else {
      FlushRun(out);
      if (pending_literal_.empty()) {
        pending_literal_ = data.subspan(offset_, c.length);
      } else {
        pending_literal_ = std::span<const uint8_t>(
            pending_literal_.data(), pending_literal_.size() + c.length);
      }
      // A long literal run is compressed as it grows, so its records
      // stream out with the rest instead of all at its end.
      if (pending_literal_.size() >= kMaxLiteralBytes) {
        FlushLiteral(out, /*whole_records_only=*/true);
      }
    }
    offset_ += c.length;
    // A batch goes out when it is big, or when it already describes a lot
    // of the file: a long copy run reaches the receiver (which can write
    // it) while we go on, instead of after the next megabyte of records.
    if (out.size() >= kRecordBatchBytes ||
        (!out.empty() && offset_ - emitted_upto_ >= kBatchCoverBytes)) {
      emitted_upto_ = offset_;
      return out;
    }
  }
  FlushRun(out);
  if (!pending_literal_.empty()) FlushLiteral(out, false);
  finished_ = true;
  if (out.empty()) return std::nullopt;
  return out;
}

void DeltaEncoder::Encode(std::span<const uint8_t> data,
                          const std::vector<ChunkEntry>& chunks,
                          const std::function<void(std::string&&)>& emit) {
  while (auto batch = NextBatch(data, chunks)) emit(std::move(*batch));
}

Status DecodeRecords(std::string_view records, uint64_t basis_chunks,
                     const std::function<Status(const DeltaOp&)>& apply) {
  static thread_local Dctx dctx;
  static thread_local std::string raw;
  ByteReader r(records);
  while (!r.empty()) {
    DFS_ASSIGN_OR_RETURN(uint8_t type, r.U8("record type"));
    DeltaOp op;
    if (type == kCopy) {
      DFS_ASSIGN_OR_RETURN(op.first, r.Varint("copy start"));
      DFS_ASSIGN_OR_RETURN(op.count, r.Varint("copy count"));
      if (op.count == 0 || op.first >= basis_chunks ||
          op.count > basis_chunks - op.first) {
        return Fail(Errc::kCorrupt,
                    "copy of chunks " + std::to_string(op.first) + "+" +
                        std::to_string(op.count) + " outside a basis of " +
                        std::to_string(basis_chunks));
      }
      op.kind = DeltaOp::kCopy;
    } else if (type == kLiteral || type == kLiteralZstd) {
      DFS_ASSIGN_OR_RETURN(uint64_t n, r.Varint("literal length"));
      if (n == 0 || n > kMaxLiteralBytes) {
        return Fail(Errc::kLimitExceeded,
                    "literal of " + std::to_string(n) + " bytes (limit 1 MiB)");
      }
      op.kind = DeltaOp::kLiteral;
      if (type == kLiteral) {
        DFS_ASSIGN_OR_RETURN(op.literal, r.Raw("literal", n));
      } else {
        DFS_ASSIGN_OR_RETURN(uint64_t c, r.Varint("compressed length"));
        if (c == 0 || c > ZSTD_compressBound(kMaxLiteralBytes)) {
          return Fail(Errc::kLimitExceeded, "compressed literal too large");
        }
        DFS_ASSIGN_OR_RETURN(std::string_view packed,
                             r.Raw("compressed literal", c));
        raw.resize(n);
        const size_t got = ZSTD_decompressDCtx(dctx.ctx, raw.data(), n,
                                               packed.data(), packed.size());
        if (ZSTD_isError(got) || got != n) {
          return Fail(Errc::kCorrupt,
                      "compressed literal does not decompress to its " +
                          std::to_string(n) + " bytes");
        }
        op.literal = std::string_view(raw.data(), n);
      }
    } else {
      return Fail(Errc::kCorrupt,
                  "unknown delta record type " + std::to_string(type));
    }
    DFS_RETURN_IF_ERROR(apply(op));
  }
  return Status::Ok();
}

std::string DeltaFilePrefix(const ChunkParams& basis_params,
                            const DeltaHeader& header) {
  ByteWriter w;
  w.Raw(kDeltaMagic);
  w.U16(kDeltaVersion);
  EncodeChunkParams(w, basis_params);
  w.Raw(EncodeDeltaHeader(header));
  return w.Take();
}

Result<DeltaFile> SplitDeltaFile(std::string_view bytes) {
  ByteReader r(bytes);
  DFS_RETURN_IF_ERROR(ReadFileHead(r, kDeltaMagic, kDeltaVersion, "delta"));
  DeltaFile file;
  DFS_ASSIGN_OR_RETURN(file.basis_params, DecodeChunkParams(r));
  DFS_RETURN_IF_ERROR(ValidateParams(file.basis_params));
  DFS_ASSIGN_OR_RETURN(std::string_view head,
                       r.Raw("delta header", kDeltaHeaderBytes));
  DFS_ASSIGN_OR_RETURN(file.header, DecodeDeltaHeader(head));
  std::string_view records = bytes.substr(bytes.size() - r.remaining());
  if (records.empty() || records.back() != kEndRecord) {
    return Fail(Errc::kCorrupt, "delta file is cut short (no end record)");
  }
  records.remove_suffix(1);
  file.records = records;
  return file;
}

}  // namespace dfs::repl
