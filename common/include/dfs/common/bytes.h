// Little-endian byte encoding helpers for our wire and disk records.
//
// ByteWriter appends; ByteReader consumes a borrowed span and checks every
// read against what is left, so a decoder of untrusted bytes never reads out
// of bounds. Strings are a u32 byte length then the bytes; callers pass the
// largest length they accept, which is checked before anything is copied.
// Thread-safety: none; each object belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dfs/common/result.h"

namespace dfs {

// LEB128: 7 bits a byte, low group first; 1..10 bytes.
inline void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Fixed(v, 2); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void Varint(uint64_t v) { AppendVarint(out_, v); }
  // u32 length + bytes.
  void String(std::string_view s);
  void Raw(std::string_view s) { out_.append(s); }

  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Fixed(uint64_t v, int width);
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : rest_(bytes) {}

  // Each read fails with Errc::kCorrupt naming `what` when the input is
  // short, and consumes nothing then.
  Result<uint8_t> U8(std::string_view what);
  Result<uint16_t> U16(std::string_view what);
  Result<uint32_t> U32(std::string_view what);
  Result<uint64_t> U64(std::string_view what);
  // Fails with kCorrupt on a truncated, over-long (> 64 bits) or padded
  // (not minimal) varint.
  Result<uint64_t> Varint(std::string_view what);
  // Fails with kLimitExceeded when the declared length exceeds `max_bytes`.
  Result<std::string> String(std::string_view what, size_t max_bytes);
  Result<std::string_view> Raw(std::string_view what, size_t n);

  size_t remaining() const { return rest_.size(); }
  bool empty() const { return rest_.empty(); }
  // Fails unless every byte was consumed: trailing garbage is corruption.
  Status ExpectEnd(std::string_view what) const;

 private:
  Result<uint64_t> Fixed(std::string_view what, int width);
  std::string_view rest_;
};

// Big-endian u64, for LMDB keys that must sort numerically.
std::string EncodeBigEndian64(uint64_t v);
Result<uint64_t> DecodeBigEndian64(std::string_view bytes);

}  // namespace dfs
