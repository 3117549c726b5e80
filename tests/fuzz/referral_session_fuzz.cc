// Fuzz target: sealed frames (referral_net/auth.h). Every frame after a
// session's handshake is opened before anything reads it; a hostile peer
// controls all of its bytes. Properties: opening never crashes; a frame
// the sealer did not make never opens; what one side seals, the other
// opens to the same payload, once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dfs/referral/framing.h"
#include "dfs/referral_net/auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rn = dfs::referral_net;
  using dfs::referral::FrameType;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string key = dfs::referral::SessionKey(
      "fuzz-key", dfs::referral::SessionPurpose::kReplication, "c", "s");
  dfs::referral::FrameSealer server(key, false), client(key, true);
  // Fuzzed bytes as frames: none may open (no one had the key).
  dfs::referral::Framer framer(1 << 20);
  if (auto frames = framer.Feed(bytes)) {
    for (const auto& f : *frames) {
      if (server.Open(f)) std::abort();
    }
  }
  // A real round trip of the fuzzed payload still works after that.
  const std::string sealed = client.Seal(FrameType::kChangesRequest, bytes);
  dfs::referral::Framer reader(2 << 20);
  auto frames = reader.Feed(sealed);
  if (!frames || frames->size() != 1) std::abort();
  auto opened = server.Open((*frames)[0]);
  if (!opened || *opened != bytes) std::abort();
  if (server.Open((*frames)[0])) std::abort();  // a replay
  return 0;
}
