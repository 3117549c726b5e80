// Fuzz target: the sync exchange's messages (Hello, GetChunks,
// DeltaStart) and the frame header they travel under, as either peer
// receives them; then the input as a stream of frames fed to both sides'
// state machines (a hostile peer at every step of the exchange).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/atomic_file.h"
#include "dfs/referral/framing.h"
#include "dfs/repl/sync.h"

namespace {

// A basis file written once per process (the machines read files).
struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<dfs::repl::Basis> basis;
  std::vector<uint8_t> new_data;
  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("repl_sync_fuzz." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string old(40'000, '\0');
    for (size_t i = 0; i < old.size(); ++i) old[i] = char(i * 7919 >> 5);
    const auto path = dir / "old";
    if (!dfs::WriteFileAtomically(path.string(), old)) std::abort();
    auto opened = dfs::repl::Basis::Open({path.string()}, {});
    if (!opened) std::abort();
    basis = std::make_unique<dfs::repl::Basis>(std::move(*opened));
    new_data.assign(old.begin(), old.end());
    new_data[20'000] ^= 1;
  }
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// Drains what a side wants to send (bounded: a sender streams a delta).
void Drain(dfs::repl::SyncSide& side) {
  for (int i = 0; i < 256 && side.NextToSend(); ++i) {
  }
}

// The input as frames: u8 type, u16 length (little-endian), payload.
void DriveMachines(std::string_view bytes) {
  static Fixture fixture;
  dfs::repl::ReceiverOptions options;
  options.durable = false;
  dfs::repl::SyncReceiver receiver(*fixture.basis,
                                   (fixture.dir / "out").string(), options);
  dfs::repl::SyncSender sender(fixture.new_data, {});
  Drain(receiver);
  for (bool to_sender = true; bytes.size() >= 3; to_sender = !to_sender) {
    const auto type = static_cast<dfs::repl::SyncMessage>(
        static_cast<uint8_t>(bytes[0]) % (dfs::repl::kMaxSyncMessage + 2));
    size_t length = static_cast<uint8_t>(bytes[1]) |
                    size_t{static_cast<uint8_t>(bytes[2])} << 8;
    bytes.remove_prefix(3);
    length = std::min(length, bytes.size());
    dfs::repl::SyncFrame frame{type, std::string(bytes.substr(0, length))};
    bytes.remove_prefix(length);
    dfs::repl::SyncSide& side =
        to_sender ? static_cast<dfs::repl::SyncSide&>(sender) : receiver;
    side.OnFrame(std::move(frame));
    Drain(side);
    // A side that failed is over and says nothing more.
    if (side.error() && !side.finished()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto h = dfs::referral::DecodeFrameHeader(
          bytes.substr(0, 5), dfs::repl::kMaxSyncFrameBytes + 1)) {
    if (h->second > dfs::repl::kMaxSyncFrameBytes + 1) std::abort();
  }
  if (auto hello = dfs::repl::DecodeHello(bytes)) {
    if (dfs::repl::EncodeHello(*hello) != bytes) std::abort();
  }
  if (auto g = dfs::repl::DecodeGetChunks(bytes)) {
    for (size_t i = 1; i < g->indices.size(); ++i) {
      if (g->indices[i] <= g->indices[i - 1]) std::abort();
    }
    if (dfs::repl::DecodeGetChunks(dfs::repl::EncodeGetChunks(*g))
            .value()
            .indices != g->indices) {
      std::abort();
    }
  }
  (void)dfs::repl::DecodeDeltaHeader(bytes);
  DriveMachines(bytes);
  return 0;
}
