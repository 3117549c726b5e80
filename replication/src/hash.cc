#include "dfs/repl/hash.h"

#include <xxhash.h>

#include <cstdio>

namespace dfs::repl {

std::string Hash128::Hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return buf;
}

Hash128 HashBytes(const uint8_t* data, size_t size) {
  const XXH128_hash_t h = XXH3_128bits(data, size);
  return {h.low64, h.high64};
}

struct StreamHasher::State {
  XXH3_state_t* xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

StreamHasher::StreamHasher() : state_(std::make_unique<State>()) {
  XXH3_128bits_reset(state_->xxh);
}
StreamHasher::~StreamHasher() = default;

void StreamHasher::Update(const uint8_t* data, size_t size) {
  XXH3_128bits_update(state_->xxh, data, size);
}

Hash128 StreamHasher::Final() const {
  const XXH128_hash_t h = XXH3_128bits_digest(state_->xxh);
  return {h.low64, h.high64};
}

}  // namespace dfs::repl
