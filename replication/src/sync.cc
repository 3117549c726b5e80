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

Result<SyncStats> RunReceiver(Channel& channel, const Basis& basis,
                              const std::string& out_path,
                              const ReceiverOptions& options) {
  DFS_RETURN_IF_ERROR(ValidateSignatureParams(options.params));
  const auto levels =
      BuildLevels(EncodeEntries(basis.entries()), options.params);
  // Level k's chunks are the entries of level k+1 (index k here).
  std::vector<std::vector<ChunkEntry>> level_entries(levels.size());
  std::vector<std::vector<uint64_t>> level_offsets(levels.size());
  for (size_t k = 1; k < levels.size(); ++k) {
    DFS_ASSIGN_OR_RETURN(level_entries[k],
                         DecodeEntries(levels[k], options.params.sig.max));
    level_offsets[k] = Offsets(level_entries[k]);
  }
  Hello hello;
  hello.params = options.params;
  hello.levels = static_cast<uint8_t>(levels.size());
  hello.basis_chunks = basis.entries().size();
  hello.top = levels.back();
  DFS_RETURN_IF_ERROR(channel.Send(SyncMessage::kHello, EncodeHello(hello)));

  SyncStats stats;
  stats.levels = levels.size();
  stats.signature_bytes = hello.top.size();
  std::unique_ptr<PatchWriter> writer;
  for (;;) {
    auto frame = channel.Receive();
    if (!frame) return Unexpected(frame.error());
    switch (frame->type) {
      case SyncMessage::kGetChunks: {
        auto request = DecodeGetChunks(frame->payload);
        if (!request) return Abort<SyncStats>(channel, request.error());
        const size_t k = request->level;  // wants chunks of level k (1-based)
        if (k >= levels.size()) {
          return Abort<SyncStats>(channel,
                                  MakeError(Errc::kCorrupt, "no such level"));
        }
        const auto& entries = level_entries[k];
        const auto& offsets = level_offsets[k];
        const std::string& stream = levels[k - 1];
        std::string reply(1, static_cast<char>(k));
        for (uint64_t i : request->indices) {
          if (i >= entries.size() ||
              reply.size() + entries[i].length > kMaxChunksReplyBytes + 1) {
            return Abort<SyncStats>(
                channel,
                MakeError(Errc::kCorrupt, "chunk request out of range"));
          }
          reply.append(stream, offsets[i], entries[i].length);
        }
        stats.signature_bytes += reply.size() - 1;
        DFS_RETURN_IF_ERROR(channel.Send(SyncMessage::kChunks, reply));
        break;
      }
      case SyncMessage::kDeltaStart: {
        auto header = DecodeDeltaHeader(frame->payload);
        if (!header) return Abort<SyncStats>(channel, header.error());
        auto created =
            PatchWriter::Create(out_path, basis, *header, options.durable);
        if (!created) return Abort<SyncStats>(channel, created.error());
        writer = std::move(created).value();
        stats.new_size = header->new_size;
        break;
      }
      case SyncMessage::kDeltaRecords: {
        if (!writer)
          return Abort<SyncStats>(channel, OutOfOrder(*frame, "delta start"));
        stats.delta.record_bytes += frame->payload.size();
        if (auto st = writer->Apply(frame->payload); !st) {
          return Abort<SyncStats>(channel, st.error());
        }
        break;
      }
      case SyncMessage::kDeltaEnd: {
        if (!writer)
          return Abort<SyncStats>(channel, OutOfOrder(*frame, "delta start"));
        if (auto st = writer->Commit(); !st)
          return Abort<SyncStats>(channel, st.error());
        DFS_RETURN_IF_ERROR(channel.Send(SyncMessage::kDone, ""));
        stats.bytes_sent = channel.bytes_sent();
        stats.bytes_received = channel.bytes_received();
        return stats;
      }
      case SyncMessage::kError:
        return Unexpected(PeerError(*frame));
      default:
        return Abort<SyncStats>(channel, OutOfOrder(*frame, "a request"));
    }
  }
}

Result<SyncStats> RunSender(Channel& channel, std::span<const uint8_t> data,
                            const SenderOptions& options) {
  // Chunk the new file while the receiver builds its signature.
  DFS_RETURN_IF_ERROR(ValidateParams(options.data));
  std::vector<ChunkEntry> chunks =
      options.chunks ? *options.chunks
                     : ChunkData(options.data, data, options.chunk_threads);
  const Hash128 whole = HashBytes(data);

  auto frame = channel.Receive();
  if (!frame) return Unexpected(frame.error());
  if (frame->type == SyncMessage::kError) return Unexpected(PeerError(*frame));
  if (frame->type != SyncMessage::kHello) {
    return Abort<SyncStats>(channel, OutOfOrder(*frame, "hello"));
  }
  auto hello = DecodeHello(frame->payload);
  if (!hello) return Abort<SyncStats>(channel, hello.error());
  const SignatureParams& params = hello->params;
  if (params.data != options.data) {
    chunks = ChunkData(params.data, data, options.chunk_threads);
  }
  SyncStats stats;
  stats.levels = hello->levels;
  stats.signature_bytes = hello->top.size();
  stats.new_size = data.size();

  // Our own levels 1..n-1 are the pool the receiver's levels are rebuilt
  // from: similar files have mostly the same signature chunks.
  const auto own = BuildLevels(EncodeEntries(chunks), params, hello->levels);
  std::string current = std::move(hello->top);  // level `levels`
  for (size_t k = hello->levels - 1; k >= 1; --k) {
    auto wanted = DecodeEntries(current, params.sig.max);
    if (!wanted) return Abort<SyncStats>(channel, wanted.error());
    // Our level k's chunks are listed by our level k+1: decode, not re-chunk.
    const std::string& pool_stream = own[k - 1];
    std::unordered_map<Hash128, std::string_view, Hash128Hasher> pool;
    {
      auto ours = DecodeEntries(own[k], params.sig.max);
      if (!ours) return Abort<SyncStats>(channel, ours.error());
      size_t at = 0;
      for (const auto& e : *ours) {
        pool.try_emplace(e.hash,
                         std::string_view(pool_stream).substr(at, e.length));
        at += e.length;
      }
    }
    uint64_t total = 0;
    std::vector<uint64_t> missing;
    for (uint64_t i = 0; i < wanted->size(); ++i) {
      total += (*wanted)[i].length;
      if (!pool.count((*wanted)[i].hash)) missing.push_back(i);
    }
    if (total > kMaxLevelBytes) {
      return Abort<SyncStats>(
          channel, MakeError(Errc::kLimitExceeded,
                             "receiver's signature level too large"));
    }
    // Fetch what we lack, in replies of at most kMaxChunksReplyBytes.
    std::unordered_map<uint64_t, std::string> fetched;
    for (size_t from = 0; from < missing.size();) {
      GetChunks request;
      request.level = static_cast<uint8_t>(k);
      size_t bytes = 0;
      while (from < missing.size() &&
             bytes + (*wanted)[missing[from]].length <= kMaxChunksReplyBytes) {
        bytes += (*wanted)[missing[from]].length;
        request.indices.push_back(missing[from++]);
      }
      DFS_RETURN_IF_ERROR(
          channel.Send(SyncMessage::kGetChunks, EncodeGetChunks(request)));
      auto reply = channel.Receive();
      if (!reply) return Unexpected(reply.error());
      if (reply->type == SyncMessage::kError)
        return Unexpected(PeerError(*reply));
      if (reply->type != SyncMessage::kChunks ||
          reply->payload.size() != bytes + 1 ||
          static_cast<uint8_t>(reply->payload[0]) != k) {
        return Abort<SyncStats>(
            channel,
            MakeError(Errc::kCorrupt, "bad chunk reply from the receiver"));
      }
      stats.signature_bytes += bytes;
      size_t at = 1;
      for (uint64_t i : request.indices) {
        const auto& e = (*wanted)[i];
        std::string bytes_of(reply->payload, at, e.length);
        at += e.length;
        if (!(HashBytes(reinterpret_cast<const uint8_t*>(bytes_of.data()),
                        bytes_of.size()) == e.hash)) {
          return Abort<SyncStats>(
              channel, MakeError(Errc::kCorrupt,
                                 "receiver sent a chunk that does not "
                                 "match its hash"));
        }
        fetched.emplace(i, std::move(bytes_of));
      }
    }
    std::string below;
    below.reserve(total);
    for (uint64_t i = 0; i < wanted->size(); ++i) {
      auto it = fetched.find(i);
      if (it != fetched.end()) {
        below += it->second;
      } else {
        below += pool.at((*wanted)[i].hash);
      }
    }
    current = std::move(below);
  }
  auto basis = DecodeEntries(current, params.data.max);
  if (!basis) return Abort<SyncStats>(channel, basis.error());
  if (basis->size() != hello->basis_chunks) {
    return Abort<SyncStats>(channel,
                            MakeError(Errc::kCorrupt,
                                      "receiver's signature does not list its "
                                      "basis"));
  }

  DeltaHeader header{data.size(), whole, basis->size()};
  DFS_RETURN_IF_ERROR(
      channel.Send(SyncMessage::kDeltaStart, EncodeDeltaHeader(header)));
  DeltaEncoder encoder(*basis, options.zstd_level);
  Status sent = Status::Ok();
  encoder.Encode(data, chunks, [&](std::string&& records) {
    if (sent) sent = channel.Send(SyncMessage::kDeltaRecords, records);
  });
  DFS_RETURN_IF_ERROR(sent);
  DFS_RETURN_IF_ERROR(channel.Send(SyncMessage::kDeltaEnd, ""));
  auto done = channel.Receive();
  if (!done) return Unexpected(done.error());
  if (done->type == SyncMessage::kError) return Unexpected(PeerError(*done));
  if (done->type != SyncMessage::kDone)
    return Unexpected(OutOfOrder(*done, "done"));
  stats.delta = encoder.stats();
  stats.bytes_sent = channel.bytes_sent();
  stats.bytes_received = channel.bytes_received();
  return stats;
}

}  // namespace dfs::repl
