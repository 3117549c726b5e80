// One file's sync between a receiver (holding the basis: the old version
// and any other local files) and a sender (holding the new version), over
// any ordered, reliable channel (dfsdelta sync uses loopback TCP; dfsrd
// will use its peer connections). The exchange:
//
//   receiver -> Hello        params, level count, the top signature level
//   sender   -> GetChunks    level k chunks it cannot rebuild from its own
//   receiver -> Chunks       their bytes               (once per level)
//   sender   -> DeltaStart, DeltaRecords..., DeltaEnd
//   receiver -> Done         installed (or Error)
//
// The sender verifies every fetched chunk against its hash; the receiver
// verifies the rebuilt file against the sender's whole-file hash before
// it renames it into place. Either side may send Error and stop.
// On a socket each message is one frame of the project's one framing
// (referral/framing.h: u32 BE length, u8 type kReplSync), its payload the
// u8 sync message type then the message (FORMAT.md).
// Thread-safety: one side per thread; a Channel belongs to its side.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/repl/delta.h"
#include "dfs/repl/files.h"
#include "dfs/repl/signature.h"

namespace dfs::repl {

enum class SyncMessage : uint8_t {
  kHello = 1,
  kGetChunks = 2,
  kChunks = 3,
  kDeltaStart = 4,
  kDeltaRecords = 5,
  kDeltaEnd = 6,
  kDone = 7,
  kError = 8,
};
inline constexpr uint8_t kMaxSyncMessage = 8;
inline constexpr uint16_t kSyncVersion = 1;
// On a socket: the 5-byte frame header and the message type byte.
inline constexpr size_t kSyncFrameOverheadBytes = 6;
inline constexpr size_t kMaxSyncFrameBytes = size_t{16} << 20;
// A Chunks reply is kept under this (the sender splits its requests).
inline constexpr size_t kMaxChunksReplyBytes = size_t{8} << 20;
inline constexpr size_t kMaxErrorBytes = 4096;

struct SyncFrame {
  SyncMessage type = SyncMessage::kError;
  std::string payload;
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual Status Send(SyncMessage type, std::string_view payload) = 0;
  virtual Result<SyncFrame> Receive() = 0;
  uint64_t bytes_sent() const { return sent_; }
  uint64_t bytes_received() const { return received_; }

 protected:
  uint64_t sent_ = 0, received_ = 0;
};

struct Hello {
  uint16_t version = kSyncVersion;
  SignatureParams params;
  uint8_t levels = 1;
  uint64_t basis_chunks = 0;
  std::string top;  // the top level's stream
};
std::string EncodeHello(const Hello& hello);
Result<Hello> DecodeHello(std::string_view payload);

struct GetChunks {
  uint8_t level = 1;              // chunks of this level's stream
  std::vector<uint64_t> indices;  // ascending
};
std::string EncodeGetChunks(const GetChunks& request);
Result<GetChunks> DecodeGetChunks(std::string_view payload);

struct SyncStats {
  uint64_t bytes_sent = 0, bytes_received = 0;
  size_t levels = 0;
  uint64_t signature_bytes = 0;  // top level + fetched chunks
  DeltaStats delta;
  uint64_t new_size = 0;
};

struct ReceiverOptions {
  SignatureParams params;
  bool durable = true;  // fsync before the rename
};
// Errors: whatever went wrong on either side (the peer's Error message
// included); on error nothing is installed at `out_path`.
Result<SyncStats> RunReceiver(Channel& channel, const Basis& basis,
                              const std::string& out_path,
                              const ReceiverOptions& options);

struct SenderOptions {
  ChunkParams data;            // used unless the receiver asks for others
  int zstd_level = 3;          // 0: no compression
  unsigned chunk_threads = 1;  // for the new file (ChunkData)
  // The new file's chunks under `data`, when known (a kept signature):
  // not chunked again unless the receiver asks for other params.
  const std::vector<ChunkEntry>* chunks = nullptr;
};
Result<SyncStats> RunSender(Channel& channel, std::span<const uint8_t> data,
                            const SenderOptions& options);

// The two sides as state machines: frames in, frames out, no I/O and no
// waiting, so one thread can drive any number of exchanges (an event loop
// feeds each the frames its socket delivers and sends what it yields);
// RunReceiver and RunSender drive one over a blocking Channel.
class SyncSide {
 public:
  virtual ~SyncSide() = default;
  // The next frame to send, if any: take every one before waiting for the
  // peer. (A sender makes its delta records here, one batch a call, so a
  // delta is never whole in memory.)
  virtual std::optional<SyncFrame> NextToSend();
  // A frame from the peer.
  virtual void OnFrame(SyncFrame frame) = 0;
  // Over, with nothing left to send; error() says whether it failed.
  bool finished() const { return over_ && outbox_.empty(); }
  const std::optional<Error>& error() const { return error_; }
  const SyncStats& stats() const { return stats_; }

 protected:
  void Queue(SyncMessage type, std::string payload);
  // A failure here: the peer is told (an Error frame), then it is over.
  void Abort(Error error);
  // The peer failed (its Error frame): over, nothing to tell it.
  void Stop(Error error);
  void Finish() { over_ = true; }
  bool over() const { return over_; }

  SyncStats stats_;

 private:
  std::deque<SyncFrame> outbox_;
  std::optional<Error> error_;
  bool over_ = false;
};

class SyncReceiver final : public SyncSide {
 public:
  // Builds the basis's signature levels and queues the Hello. `basis`
  // must outlive it; the new file is built at `out_path` (installed only
  // once its whole-file hash checks out).
  SyncReceiver(const Basis& basis, std::string out_path,
               const ReceiverOptions& options);
  ~SyncReceiver() override;
  void OnFrame(SyncFrame frame) override;

 private:
  const Basis& basis_;
  std::string out_path_;
  ReceiverOptions options_;
  std::vector<std::string> levels_;
  // Level k's chunks are the entries of level k+1 (index k here).
  std::vector<std::vector<ChunkEntry>> level_entries_;
  std::vector<std::vector<uint64_t>> level_offsets_;
  std::unique_ptr<PatchWriter> writer_;
};

class SyncSender final : public SyncSide {
 public:
  // Chunks `data` (unless options.chunks has them). `data` must outlive it.
  SyncSender(std::span<const uint8_t> data, const SenderOptions& options);
  ~SyncSender() override;
  std::optional<SyncFrame> NextToSend() override;
  void OnFrame(SyncFrame frame) override;

 private:
  enum class State { kHello, kChunks, kStreaming, kDone };
  void TakeHello(const SyncFrame& frame);
  void TakeChunks(const SyncFrame& frame);
  // Rebuilds the receiver's levels from the top down, asking for what our
  // own levels lack; at level 0, starts the delta.
  void DescendLevels();
  void AskForMissing();
  void StartDelta();

  std::span<const uint8_t> data_;
  SenderOptions options_;
  State state_ = State::kHello;
  std::vector<ChunkEntry> chunks_;
  Hash128 whole_;
  SignatureParams params_;
  uint64_t basis_chunks_ = 0;
  std::vector<std::string> own_;  // our levels 1..n-1
  std::string current_;           // the receiver's level `level_`
  size_t level_ = 0;
  // The level being rebuilt: its entries, our chunks that may fill it,
  // what we lack and have fetched, and the request in flight.
  std::vector<ChunkEntry> wanted_;
  std::unordered_map<Hash128, std::string_view, Hash128Hasher> pool_;
  std::vector<uint64_t> missing_;
  size_t next_missing_ = 0;
  std::unordered_map<uint64_t, std::string> fetched_;
  std::vector<uint64_t> asked_;
  size_t asked_bytes_ = 0;
  std::vector<ChunkEntry> basis_entries_;
  std::unique_ptr<DeltaEncoder> encoder_;
};

// Drives `side` over a blocking channel until it is over.
Result<SyncStats> Drive(Channel& channel, SyncSide& side);

}  // namespace dfs::repl
