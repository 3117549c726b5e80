// Strong hashes: XXH3-128 of chunks and of whole files (xxHash stays
// behind this header, STYLE.md).
// Thread-safety: pure functions; a FileHasher belongs to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace dfs::repl {

struct Hash128 {
  uint64_t low = 0, high = 0;
  bool operator==(const Hash128&) const = default;
  std::string Hex() const;
};
inline constexpr size_t kHashBytes = 16;

struct Hash128Hasher {
  size_t operator()(const Hash128& h) const noexcept {
    return static_cast<size_t>(h.low ^ (h.high * 0x9E3779B97F4A7C15ULL));
  }
};

Hash128 HashBytes(const uint8_t* data, size_t size);
inline Hash128 HashBytes(std::span<const uint8_t> data) {
  return HashBytes(data.data(), data.size());
}

// Incremental XXH3-128 of a stream (a whole file written piece by piece).
class StreamHasher {
 public:
  StreamHasher();
  ~StreamHasher();
  StreamHasher(const StreamHasher&) = delete;
  StreamHasher& operator=(const StreamHasher&) = delete;
  void Update(const uint8_t* data, size_t size);
  Hash128 Final() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dfs::repl
