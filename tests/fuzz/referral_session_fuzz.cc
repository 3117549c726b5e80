// Fuzz target: sessions (referral/session.h, session_crypto.h). A hostile
// peer controls all of its bytes. Properties: the server's session never
// crashes and passes on no request to a peer that never proved the key;
// opening a sealed frame never crashes; a frame the sealer did not make
// never opens; what one side seals, the other opens to the same payload,
// once.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dfs/referral/framing.h"
#include "dfs/referral/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
  // The same frames into a server's session: hellos and guesses at most.
  {
    dfs::referral::SessionKeys keys{"fuzz-admin-key-0123456789",
                                    "fuzz-replica-key-0123456789",
                                    "fuzz-content-key-0123456789", true};
    dfs::referral::AuthThrottle throttle;
    dfs::referral::ServerSession session(keys, throttle, "peer",
                                         [] { return std::string(32, 'n'); });
    dfs::referral::Framer session_framer(1 << 20);
    if (auto frames = session_framer.Feed(bytes)) {
      for (const auto& f : *frames) {
        if (!session.Claims(f)) continue;
        auto step = session.OnFrame(f, dfs::referral::SessionClock::now());
        if (step.request) std::abort();
        if (session.state() ==
            dfs::referral::ServerSession::State::kAuthenticated) {
          std::abort();
        }
      }
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
