#include "dfs/common/bytes.h"

#include "dfs/common/error.h"

namespace dfs {

void ByteWriter::Fixed(uint64_t v, int width) {
  for (int i = 0; i < width; ++i) {
    out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

void ByteWriter::String(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

Result<uint64_t> ByteReader::Fixed(std::string_view what, int width) {
  if (rest_.size() < static_cast<size_t>(width)) {
    return Fail(Errc::kCorrupt, "truncated record: " + std::string(what) +
                                    " needs " + std::to_string(width) +
                                    " bytes, " + std::to_string(rest_.size()) +
                                    " left");
  }
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(rest_[i])) << (8 * i);
  }
  rest_.remove_prefix(width);
  return v;
}

Result<uint8_t> ByteReader::U8(std::string_view what) {
  DFS_ASSIGN_OR_RETURN(uint64_t v, Fixed(what, 1));
  return static_cast<uint8_t>(v);
}
Result<uint16_t> ByteReader::U16(std::string_view what) {
  DFS_ASSIGN_OR_RETURN(uint64_t v, Fixed(what, 2));
  return static_cast<uint16_t>(v);
}
Result<uint32_t> ByteReader::U32(std::string_view what) {
  DFS_ASSIGN_OR_RETURN(uint64_t v, Fixed(what, 4));
  return static_cast<uint32_t>(v);
}
Result<uint64_t> ByteReader::U64(std::string_view what) {
  return Fixed(what, 8);
}

Result<uint64_t> ByteReader::Varint(std::string_view what) {
  uint64_t v = 0;
  for (size_t i = 0; i < 10 && i < rest_.size(); ++i) {
    const auto byte = static_cast<uint8_t>(rest_[i]);
    if (i == 9 && byte > 1) break;  // more than 64 bits
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      // One value, one encoding: a zero last byte only pads (what was
      // decoded would not encode back to the same bytes).
      if (i > 0 && byte == 0) break;
      rest_.remove_prefix(i + 1);
      return v;
    }
  }
  return Fail(Errc::kCorrupt, "bad varint: " + std::string(what));
}

Result<std::string_view> ByteReader::Raw(std::string_view what, size_t n) {
  if (rest_.size() < n) {
    return Fail(Errc::kCorrupt, "truncated record: " + std::string(what) +
                                    " declares " + std::to_string(n) +
                                    " bytes, " + std::to_string(rest_.size()) +
                                    " left");
  }
  std::string_view out = rest_.substr(0, n);
  rest_.remove_prefix(n);
  return out;
}

Result<std::string> ByteReader::String(std::string_view what,
                                       size_t max_bytes) {
  std::string_view before = rest_;
  DFS_ASSIGN_OR_RETURN(uint32_t n, U32(what));
  if (n > max_bytes) {
    rest_ = before;
    return Fail(Errc::kLimitExceeded, std::string(what) + " is " +
                                          std::to_string(n) +
                                          " bytes, more than the limit of " +
                                          std::to_string(max_bytes));
  }
  auto bytes = Raw(what, n);
  if (!bytes) {
    rest_ = before;
    return Unexpected<Error>(std::move(bytes).error());
  }
  return std::string(*bytes);
}

Status ByteReader::ExpectEnd(std::string_view what) const {
  if (!rest_.empty()) {
    return Fail(Errc::kCorrupt, std::to_string(rest_.size()) +
                                    " unexpected trailing bytes after " +
                                    std::string(what));
  }
  return Status::Ok();
}

std::string EncodeBigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

Result<uint64_t> DecodeBigEndian64(std::string_view bytes) {
  if (bytes.size() != 8) {
    return Fail(Errc::kCorrupt, "big-endian u64 key has " +
                                    std::to_string(bytes.size()) +
                                    " bytes, not 8");
  }
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

}  // namespace dfs
