#include "dfs/repl/sync.h"

#include <unordered_map>

#include "dfs/common/bytes.h"

namespace dfs::repl {
namespace {

// Where each chunk of a level stream starts, from the entries above it.
std::vector<uint64_t> Offsets(const std::vector<ChunkEntry>& entries) {
  std::vector<uint64_t> out;
  out.reserve(entries.size() + 1);
  uint64_t at = 0;
  for (const auto& e : entries) {
    out.push_back(at);
    at += e.length;
  }
  out.push_back(at);
  return out;
}

// Sends an Error frame for a local failure, then returns the failure.
template <typename T>
Result<T> Abort(Channel& channel, Error error) {
  (void)channel.Send(SyncMessage::kError,
                     error.context.substr(0, kMaxErrorBytes));
  return Unexpected(std::move(error));
}

Error PeerError(const SyncFrame& frame) {
  return MakeError(Errc::kIo,
                   "peer: " + frame.payload.substr(0, kMaxErrorBytes));
}

Error OutOfOrder(const SyncFrame& frame, std::string_view waiting_for) {
  return MakeError(Errc::kCorrupt,
                   "protocol: message " +
                       std::to_string(static_cast<int>(frame.type)) +
                       " while waiting for " + std::string(waiting_for));
}

}  // namespace

std::string EncodeHello(const Hello& h) {
  ByteWriter w;
  w.U16(h.version);
  EncodeChunkParams(w, h.params.data);
  EncodeChunkParams(w, h.params.sig);
  w.U32(h.params.top_bytes);
  w.U8(h.levels);
  w.U64(h.basis_chunks);
  w.String(h.top);
  return w.Take();
}

Result<Hello> DecodeHello(std::string_view payload) {
  ByteReader r(payload);
  Hello h;
  DFS_ASSIGN_OR_RETURN(h.version, r.U16("version"));
  if (h.version != kSyncVersion) {
    return Fail(
        Errc::kUnsupported,
        "sync version " + std::to_string(h.version) + ", this speaks 1");
  }
  DFS_ASSIGN_OR_RETURN(h.params.data, DecodeChunkParams(r));
  DFS_ASSIGN_OR_RETURN(h.params.sig, DecodeChunkParams(r));
  DFS_ASSIGN_OR_RETURN(h.params.top_bytes, r.U32("top size"));
  DFS_RETURN_IF_ERROR(ValidateSignatureParams(h.params));
  DFS_ASSIGN_OR_RETURN(h.levels, r.U8("levels"));
  if (h.levels == 0 || h.levels > kMaxLevels) {
    return Fail(Errc::kCorrupt,
                "signature of " + std::to_string(h.levels) + " levels");
  }
  DFS_ASSIGN_OR_RETURN(h.basis_chunks, r.U64("basis chunks"));
  if (h.basis_chunks > kMaxEntries) {
    return Fail(Errc::kLimitExceeded, "basis above the chunk limit");
  }
  DFS_ASSIGN_OR_RETURN(h.top,
                       r.String("top level", h.params.top_bytes * 2 + 64));
  DFS_RETURN_IF_ERROR(r.ExpectEnd("hello"));
  return h;
}

std::string EncodeGetChunks(const GetChunks& g) {
  ByteWriter w;
  w.U8(g.level);
  w.Varint(g.indices.size());
  uint64_t previous = 0;
  for (size_t i = 0; i < g.indices.size(); ++i) {
    w.Varint(i == 0 ? g.indices[0] : g.indices[i] - previous - 1);
    previous = g.indices[i];
  }
  return w.Take();
}

Result<GetChunks> DecodeGetChunks(std::string_view payload) {
  ByteReader r(payload);
  GetChunks g;
  DFS_ASSIGN_OR_RETURN(g.level, r.U8("level"));
  if (g.level == 0 || g.level >= kMaxLevels) {
    return Fail(Errc::kCorrupt,
                "chunks asked of level " + std::to_string(g.level));
  }
  DFS_ASSIGN_OR_RETURN(uint64_t count, r.Varint("count"));
  // Each index takes at least one byte: a count beyond what is left is a lie.
  if (count > r.remaining())
    return Fail(Errc::kCorrupt, "chunk request cut short");
  g.indices.reserve(count);
  uint64_t at = 0;
  for (uint64_t i = 0; i < count; ++i) {
    DFS_ASSIGN_OR_RETURN(uint64_t gap, r.Varint("index"));
    if (gap > kMaxEntries || (i > 0 && at + 1 + gap > kMaxEntries)) {
      return Fail(Errc::kLimitExceeded, "chunk index above the limit");
    }
    at = i == 0 ? gap : at + 1 + gap;
    g.indices.push_back(at);
  }
  DFS_RETURN_IF_ERROR(r.ExpectEnd("chunk request"));
  return g;
}

// ------------------------------------------------------------ either side

std::optional<SyncFrame> SyncSide::NextToSend() {
  if (outbox_.empty()) return std::nullopt;
  SyncFrame frame = std::move(outbox_.front());
  outbox_.pop_front();
  return frame;
}

void SyncSide::Queue(SyncMessage type, std::string payload) {
  outbox_.push_back(SyncFrame{type, std::move(payload)});
}

void SyncSide::Abort(Error error) {
  if (over_) return;
  Queue(SyncMessage::kError, error.context.substr(0, kMaxErrorBytes));
  error_ = std::move(error);
  over_ = true;
}

void SyncSide::Stop(Error error) {
  if (over_) return;
  error_ = std::move(error);
  over_ = true;
}

Result<SyncStats> Drive(Channel& channel, SyncSide& side) {
  for (;;) {
    while (auto frame = side.NextToSend()) {
      DFS_RETURN_IF_ERROR(channel.Send(frame->type, frame->payload));
    }
    if (side.finished()) break;
    auto frame = channel.Receive();
    if (!frame) return Unexpected(frame.error());
    side.OnFrame(std::move(*frame));
  }
  if (side.error()) return Unexpected(*side.error());
  SyncStats stats = side.stats();
  stats.bytes_sent = channel.bytes_sent();
  stats.bytes_received = channel.bytes_received();
  return stats;
}

// ------------------------------------------------------------ receiver

SyncReceiver::SyncReceiver(const Basis& basis, std::string out_path,
                           const ReceiverOptions& options)
    : basis_(basis), out_path_(std::move(out_path)), options_(options) {
  if (Status valid = ValidateSignatureParams(options_.params); !valid) {
    Abort(valid.error());
    return;
  }
  levels_ = BuildLevels(EncodeEntries(basis_.entries()), options_.params);
  level_entries_.resize(levels_.size());
  level_offsets_.resize(levels_.size());
  for (size_t k = 1; k < levels_.size(); ++k) {
    auto entries = DecodeEntries(levels_[k], options_.params.sig.max);
    if (!entries) {
      Abort(entries.error());
      return;
    }
    level_entries_[k] = std::move(*entries);
    level_offsets_[k] = Offsets(level_entries_[k]);
  }
  Hello hello;
  hello.params = options_.params;
  hello.levels = static_cast<uint8_t>(levels_.size());
  hello.basis_chunks = basis_.entries().size();
  hello.top = levels_.back();
  stats_.levels = levels_.size();
  stats_.signature_bytes = hello.top.size();
  Queue(SyncMessage::kHello, EncodeHello(hello));
}

SyncReceiver::~SyncReceiver() = default;

void SyncReceiver::OnFrame(SyncFrame frame) {
  if (over()) return;
  switch (frame.type) {
    case SyncMessage::kGetChunks: {
      auto request = DecodeGetChunks(frame.payload);
      if (!request) return Abort(request.error());
      const size_t k = request->level;  // wants chunks of level k (1-based)
      if (k >= levels_.size()) {
        return Abort(MakeError(Errc::kCorrupt, "no such level"));
      }
      const auto& entries = level_entries_[k];
      const auto& offsets = level_offsets_[k];
      const std::string& stream = levels_[k - 1];
      std::string reply(1, static_cast<char>(k));
      for (uint64_t i : request->indices) {
        if (i >= entries.size() ||
            reply.size() + entries[i].length > kMaxChunksReplyBytes + 1) {
          return Abort(MakeError(Errc::kCorrupt, "chunk request out of range"));
        }
        reply.append(stream, offsets[i], entries[i].length);
      }
      stats_.signature_bytes += reply.size() - 1;
      return Queue(SyncMessage::kChunks, std::move(reply));
    }
    case SyncMessage::kDeltaStart: {
      if (writer_) return Abort(OutOfOrder(frame, "delta records"));
      auto header = DecodeDeltaHeader(frame.payload);
      if (!header) return Abort(header.error());
      auto created =
          PatchWriter::Create(out_path_, basis_, *header, options_.durable);
      if (!created) return Abort(created.error());
      writer_ = std::move(created).value();
      stats_.new_size = header->new_size;
      return;
    }
    case SyncMessage::kDeltaRecords: {
      if (!writer_) return Abort(OutOfOrder(frame, "delta start"));
      stats_.delta.record_bytes += frame.payload.size();
      if (Status applied = writer_->Apply(frame.payload); !applied) {
        return Abort(applied.error());
      }
      return;
    }
    case SyncMessage::kDeltaEnd: {
      if (!writer_) return Abort(OutOfOrder(frame, "delta start"));
      if (Status committed = writer_->Commit(); !committed) {
        return Abort(committed.error());
      }
      Queue(SyncMessage::kDone, "");
      return Finish();
    }
    case SyncMessage::kError:
      return Stop(PeerError(frame));
    default:
      return Abort(OutOfOrder(frame, "a request"));
  }
}

Result<SyncStats> RunReceiver(Channel& channel, const Basis& basis,
                              const std::string& out_path,
                              const ReceiverOptions& options) {
  SyncReceiver receiver(basis, out_path, options);
  return Drive(channel, receiver);
}

// ------------------------------------------------------------ sender

SyncSender::SyncSender(std::span<const uint8_t> data,
                       const SenderOptions& options)
    : data_(data), options_(options) {
  // Chunk the new file while the receiver builds its signature.
  if (Status valid = ValidateParams(options_.data); !valid) {
    Abort(valid.error());
    return;
  }
  chunks_ = options_.chunks
                ? *options_.chunks
                : ChunkData(options_.data, data_, options_.chunk_threads);
  options_.chunks = nullptr;  // not ours to keep pointing at
  whole_ = HashBytes(data_);
  stats_.new_size = data_.size();
}

SyncSender::~SyncSender() = default;

void SyncSender::OnFrame(SyncFrame frame) {
  if (over()) return;
  if (frame.type == SyncMessage::kError) return Stop(PeerError(frame));
  switch (state_) {
    case State::kHello:
      if (frame.type != SyncMessage::kHello) {
        return Abort(OutOfOrder(frame, "hello"));
      }
      return TakeHello(frame);
    case State::kChunks:
      return TakeChunks(frame);
    case State::kStreaming:
      return Abort(OutOfOrder(frame, "the end of our delta"));
    case State::kDone:
      if (frame.type != SyncMessage::kDone) {
        return Stop(OutOfOrder(frame, "done"));
      }
      stats_.delta = encoder_->stats();
      return Finish();
  }
}

void SyncSender::TakeHello(const SyncFrame& frame) {
  auto hello = DecodeHello(frame.payload);
  if (!hello) return Abort(hello.error());
  params_ = hello->params;
  if (params_.data != options_.data) {
    chunks_ = ChunkData(params_.data, data_, options_.chunk_threads);
  }
  stats_.levels = hello->levels;
  stats_.signature_bytes = hello->top.size();
  basis_chunks_ = hello->basis_chunks;
  // Our own levels 1..n-1 are the pool the receiver's levels are rebuilt
  // from: similar files have mostly the same signature chunks.
  own_ = BuildLevels(EncodeEntries(chunks_), params_, hello->levels);
  current_ = std::move(hello->top);  // level `levels`
  level_ = hello->levels;
  DescendLevels();
}

void SyncSender::DescendLevels() {
  while (level_ > 1) {
    const size_t k = level_ - 1;  // rebuilding level k from level k+1
    auto wanted = DecodeEntries(current_, params_.sig.max);
    if (!wanted) return Abort(wanted.error());
    wanted_ = std::move(*wanted);
    // Our level k's chunks are listed by our level k+1: decode, not
    // re-chunk.
    pool_.clear();
    const std::string& pool_stream = own_[k - 1];
    auto ours = DecodeEntries(own_[k], params_.sig.max);
    if (!ours) return Abort(ours.error());
    size_t at = 0;
    for (const auto& e : *ours) {
      pool_.try_emplace(e.hash,
                        std::string_view(pool_stream).substr(at, e.length));
      at += e.length;
    }
    uint64_t total = 0;
    missing_.clear();
    for (uint64_t i = 0; i < wanted_.size(); ++i) {
      total += wanted_[i].length;
      if (!pool_.count(wanted_[i].hash)) missing_.push_back(i);
    }
    if (total > kMaxLevelBytes) {
      return Abort(MakeError(Errc::kLimitExceeded,
                             "receiver's signature level too large"));
    }
    fetched_.clear();
    next_missing_ = 0;
    if (!missing_.empty()) {
      state_ = State::kChunks;
      return AskForMissing();  // TakeChunks comes back here when done
    }
    std::string below;
    below.reserve(total);
    for (const auto& e : wanted_) below += pool_.at(e.hash);
    current_ = std::move(below);
    --level_;
  }
  StartDelta();
}

void SyncSender::AskForMissing() {
  // What we lack, in replies of at most kMaxChunksReplyBytes.
  GetChunks request;
  request.level = static_cast<uint8_t>(level_ - 1);
  asked_bytes_ = 0;
  while (next_missing_ < missing_.size() &&
         asked_bytes_ + wanted_[missing_[next_missing_]].length <=
             kMaxChunksReplyBytes) {
    asked_bytes_ += wanted_[missing_[next_missing_]].length;
    request.indices.push_back(missing_[next_missing_++]);
  }
  asked_ = request.indices;
  Queue(SyncMessage::kGetChunks, EncodeGetChunks(request));
}

void SyncSender::TakeChunks(const SyncFrame& reply) {
  const size_t k = level_ - 1;
  if (reply.type != SyncMessage::kChunks ||
      reply.payload.size() != asked_bytes_ + 1 ||
      static_cast<uint8_t>(reply.payload[0]) != k) {
    return Abort(
        MakeError(Errc::kCorrupt, "bad chunk reply from the receiver"));
  }
  stats_.signature_bytes += asked_bytes_;
  size_t at = 1;
  for (uint64_t i : asked_) {
    const auto& e = wanted_[i];
    std::string bytes_of(reply.payload, at, e.length);
    at += e.length;
    if (!(HashBytes(reinterpret_cast<const uint8_t*>(bytes_of.data()),
                    bytes_of.size()) == e.hash)) {
      return Abort(MakeError(Errc::kCorrupt,
                             "receiver sent a chunk that does not match its "
                             "hash"));
    }
    fetched_.emplace(i, std::move(bytes_of));
  }
  if (next_missing_ < missing_.size()) return AskForMissing();
  uint64_t total = 0;
  for (const auto& e : wanted_) total += e.length;
  std::string below;
  below.reserve(total);
  for (uint64_t i = 0; i < wanted_.size(); ++i) {
    auto it = fetched_.find(i);
    below += it != fetched_.end() ? std::string_view(it->second)
                                  : pool_.at(wanted_[i].hash);
  }
  fetched_.clear();
  current_ = std::move(below);
  --level_;
  state_ = State::kHello;  // not waiting for chunks any more
  DescendLevels();
}

void SyncSender::StartDelta() {
  auto basis = DecodeEntries(current_, params_.data.max);
  if (!basis) return Abort(basis.error());
  if (basis->size() != basis_chunks_) {
    return Abort(MakeError(Errc::kCorrupt,
                           "receiver's signature does not list its basis"));
  }
  DeltaHeader header{data_.size(), whole_, basis->size()};
  Queue(SyncMessage::kDeltaStart, EncodeDeltaHeader(header));
  // The encoder indexes the basis list: it lives as long as the encoder.
  basis_entries_ = std::move(*basis);
  encoder_ =
      std::make_unique<DeltaEncoder>(basis_entries_, options_.zstd_level);
  current_.clear();
  own_.clear();
  pool_.clear();
  state_ = State::kStreaming;
}

std::optional<SyncFrame> SyncSender::NextToSend() {
  if (auto queued = SyncSide::NextToSend()) return queued;
  if (state_ != State::kStreaming || over()) return std::nullopt;
  if (auto records = encoder_->NextBatch(data_, chunks_)) {
    return SyncFrame{SyncMessage::kDeltaRecords, std::move(*records)};
  }
  state_ = State::kDone;
  return SyncFrame{SyncMessage::kDeltaEnd, ""};
}

Result<SyncStats> RunSender(Channel& channel, std::span<const uint8_t> data,
                            const SenderOptions& options) {
  SyncSender sender(data, options);
  return Drive(channel, sender);
}

}  // namespace dfs::repl
