#include "dfs/repl_state/state_store.h"

#include <chrono>

#include "dfs/common/bytes.h"
#include "dfs/common/clock.h"
#include "dfs/common/error.h"
#include "dfs/lmdb/lmdb.h"

namespace dfs::repl {
namespace fs = std::filesystem;

struct StateStore::Tables {
  lmdb::Dbi meta = 0, records = 0, by_seq = 0, stats = 0, by_hash = 0,
            peers = 0, signatures = 0;
};

namespace {

constexpr std::string_view kFormatName = "dfsrd-state";

std::string HashKey(const Hash128& hash, std::string_view path) {
  ByteWriter w;
  w.U64(hash.high);
  w.U64(hash.low);
  w.Raw(path);
  return w.Take();
}
std::string HashPrefix(const Hash128& hash) { return HashKey(hash, ""); }

constexpr size_t kStatBytes = 32;  // EncodeStat's four u64

std::string EncodeStat(const LocalStat& s) {
  ByteWriter w;
  w.U64(s.inode);
  w.U64(s.size);
  w.U64(static_cast<uint64_t>(s.mtime_ns));
  w.U64(static_cast<uint64_t>(s.ctime_ns));
  return w.Take();
}

Result<LocalStat> DecodeStat(std::string_view bytes) {
  ByteReader r(bytes);
  LocalStat s;
  DFS_ASSIGN_OR_RETURN(s.inode, r.U64("inode"));
  DFS_ASSIGN_OR_RETURN(s.size, r.U64("size"));
  DFS_ASSIGN_OR_RETURN(uint64_t mtime, r.U64("mtime"));
  DFS_ASSIGN_OR_RETURN(uint64_t ctime, r.U64("ctime"));
  s.mtime_ns = static_cast<int64_t>(mtime);
  s.ctime_ns = static_cast<int64_t>(ctime);
  return s;
}

std::string EncodePeer(const PeerState& p) {
  ByteWriter w;
  w.U64(p.pulled_seq);
  w.U64(p.high_seq);
  w.U64(static_cast<uint64_t>(p.last_contact_ms));
  w.U64(p.served_seq);
  w.U64(static_cast<uint64_t>(p.last_served_ms));
  w.U8(p.rejoining ? 1 : 0);
  w.U64(p.rejoin_known_seq);
  w.U64(p.rejoin_pulled_seq);
  return w.Take();
}

Result<PeerState> DecodePeer(std::string_view bytes) {
  ByteReader r(bytes);
  PeerState p;
  DFS_ASSIGN_OR_RETURN(p.pulled_seq, r.U64("pulled"));
  DFS_ASSIGN_OR_RETURN(p.high_seq, r.U64("high"));
  DFS_ASSIGN_OR_RETURN(uint64_t at, r.U64("contact"));
  p.last_contact_ms = static_cast<int64_t>(at);
  DFS_ASSIGN_OR_RETURN(p.served_seq, r.U64("served"));
  DFS_ASSIGN_OR_RETURN(uint64_t served_at, r.U64("served at"));
  p.last_served_ms = static_cast<int64_t>(served_at);
  if (r.remaining() == 0) return p;  // written before rejoins were kept
  DFS_ASSIGN_OR_RETURN(uint8_t rejoining, r.U8("rejoining"));
  p.rejoining = rejoining != 0;
  DFS_ASSIGN_OR_RETURN(p.rejoin_known_seq, r.U64("rejoin known"));
  DFS_ASSIGN_OR_RETURN(p.rejoin_pulled_seq, r.U64("rejoin pulled"));
  return p;
}

// A `by_seq` value: the path, then (in stores written since dfsd's status
// page) a NUL and the u64 BE wall-clock ms the record was stored here. A
// path never holds NUL (ValidateRelativePath).
std::string SeqEntry(std::string_view path, int64_t recorded_ms) {
  std::string out(path);
  out.push_back('\0');
  out += EncodeBigEndian64(static_cast<uint64_t>(recorded_ms));
  return out;
}
struct SeqEntryParts {
  std::string_view path;
  std::optional<int64_t> recorded_ms;  // nothing: an older store's entry
};
SeqEntryParts DecodeSeqEntry(std::string_view value) {
  const size_t nul = value.find('\0');
  if (nul == std::string_view::npos) return {value, std::nullopt};
  auto ms = DecodeBigEndian64(value.substr(nul + 1));
  if (!ms) return {value.substr(0, nul), std::nullopt};
  return {value.substr(0, nul), static_cast<int64_t>(*ms)};
}

Result<uint64_t> ReadSeq(const lmdb::Txn& txn, lmdb::Dbi meta) {
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(meta, "seq"));
  if (!bytes) return uint64_t{0};
  return DecodeBigEndian64(*bytes);
}

}  // namespace

StateStore::~StateStore() = default;

Status StateStore::OpenTables(lmdb::Txn& txn, const fs::path& dir,
                              bool create) {
  Tables& t = *tables_;
  for (auto [name, table] :
       {std::pair{"meta", &t.meta}, std::pair{"records", &t.records},
        std::pair{"by_seq", &t.by_seq}, std::pair{"stats", &t.stats},
        std::pair{"by_hash", &t.by_hash}, std::pair{"peers", &t.peers},
        std::pair{"signatures", &t.signatures}}) {
    DFS_ASSIGN_OR_RETURN(auto opened, txn.OpenTable(name, create));
    // A store from before signatures were kept reads without them.
    if (!opened && table == &t.signatures) continue;
    if (!opened) {
      return Fail(Errc::kCorrupt, dir.string() + " lacks the '" + name +
                                      "' table of a dfsrd state store");
    }
    *table = *opened;
  }
  return Status::Ok();
}

Result<std::unique_ptr<StateStore>> StateStore::Open(
    const fs::path& dir, const std::string& group, const std::string& member) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Fail(Errc::kIo,
                "cannot create " + dir.string() + ": " + ec.message());
  }
  auto store = std::unique_ptr<StateStore>(new StateStore());
  lmdb::EnvOptions options;
  options.name = "the dfsrd state store";
  options.map_size_bytes = size_t{8} << 30;
  options.sync_each_commit = false;
  options.damage_hint =
      "stop dfsrd, move " + dir.string() +
      " aside and start it again: it rebuilds its state from the folder and "
      "its peers";
  DFS_ASSIGN_OR_RETURN(store->env_, lmdb::Env::Open(dir, options));
  store->tables_ = std::make_unique<Tables>();
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, store->env_->BeginWrite());
  DFS_RETURN_IF_ERROR(store->OpenTables(txn, dir, /*create=*/true));
  Tables& t = *store->tables_;
  DFS_ASSIGN_OR_RETURN(auto format, txn.Get(t.meta, "format"));
  if (!format) {
    ByteWriter schema;
    schema.U32(kStateSchemaVersion);
    DFS_RETURN_IF_ERROR(txn.Put(t.meta, "format", kFormatName));
    DFS_RETURN_IF_ERROR(txn.Put(t.meta, "schema", schema.data()));
    DFS_RETURN_IF_ERROR(txn.Put(t.meta, "group", group));
    DFS_RETURN_IF_ERROR(txn.Put(t.meta, "member", member));
  } else if (*format != kFormatName) {
    return Fail(Errc::kCorrupt, dir.string() + " is not a dfsrd state store");
  }
  DFS_ASSIGN_OR_RETURN(auto stored_group, txn.Get(t.meta, "group"));
  DFS_ASSIGN_OR_RETURN(auto stored_member, txn.Get(t.meta, "member"));
  if (!stored_group || *stored_group != group || !stored_member ||
      *stored_member != member) {
    return Fail(Errc::kConflict, dir.string() + " holds the state of member '" +
                                     std::string(stored_member.value_or("?")) +
                                     "' of group '" +
                                     std::string(stored_group.value_or("?")) +
                                     "', not of '" + member + "' of '" + group +
                                     "': give each member its own state_dir");
  }
  DFS_RETURN_IF_ERROR(txn.Commit("initialising " + dir.string()));
  store->group_ = group;
  store->member_ = member;
  return store;
}

Result<std::unique_ptr<StateStore>> StateStore::OpenForReading(
    const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / "data.mdb", ec)) {
    return Fail(Errc::kNotFound, "no dfsrd state in " + dir.string() +
                                     " (has dfsrd run with this config?)");
  }
  auto store = std::unique_ptr<StateStore>(new StateStore());
  lmdb::EnvOptions options;
  options.name = "the dfsrd state store";
  options.map_size_bytes = size_t{8} << 30;
  DFS_ASSIGN_OR_RETURN(store->env_, lmdb::Env::Open(dir, options));
  store->tables_ = std::make_unique<Tables>();
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, store->env_->BeginRead());
  DFS_RETURN_IF_ERROR(store->OpenTables(txn, dir, /*create=*/false));
  Tables& t = *store->tables_;
  DFS_ASSIGN_OR_RETURN(auto group, txn.Get(t.meta, "group"));
  DFS_ASSIGN_OR_RETURN(auto member, txn.Get(t.meta, "member"));
  store->group_ = std::string(group.value_or(""));
  store->member_ = std::string(member.value_or(""));
  DFS_RETURN_IF_ERROR(txn.Commit("reading " + dir.string()));
  return store;
}

Result<std::optional<FileRecord>> StateStore::Get(
    const std::string& path) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(tables_->records, path));
  if (!bytes) return std::optional<FileRecord>();
  DFS_ASSIGN_OR_RETURN(FileRecord r, DecodeRecord(*bytes));
  return std::optional<FileRecord>(std::move(r));
}

Result<uint64_t> StateStore::Put(FileRecord record,
                                 std::optional<LocalStat> stat) {
  const Tables& t = *tables_;
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginWrite());
  DFS_ASSIGN_OR_RETURN(auto old_bytes, txn.Get(t.records, record.path));
  if (old_bytes) {
    DFS_ASSIGN_OR_RETURN(FileRecord old, DecodeRecord(*old_bytes));
    DFS_RETURN_IF_ERROR(txn.Delete(t.by_seq, EncodeBigEndian64(old.seq)));
    DFS_RETURN_IF_ERROR(txn.Delete(t.by_hash, HashKey(old.hash, old.path)));
  }
  DFS_ASSIGN_OR_RETURN(uint64_t seq, ReadSeq(txn, t.meta));
  record.seq = ++seq;
  DFS_RETURN_IF_ERROR(txn.Put(t.meta, "seq", EncodeBigEndian64(seq)));
  DFS_RETURN_IF_ERROR(txn.Put(t.records, record.path, EncodeRecord(record)));
  DFS_RETURN_IF_ERROR(txn.Put(t.by_seq, EncodeBigEndian64(seq),
                              SeqEntry(record.path, UnixMillis())));
  if (!record.deleted && !record.is_dir) {
    DFS_RETURN_IF_ERROR(txn.Put(t.by_hash, HashKey(record.hash, record.path),
                                std::string_view("\x01", 1)));
  }
  if (stat) {
    DFS_RETURN_IF_ERROR(txn.Put(t.stats, record.path, EncodeStat(*stat)));
  } else {
    DFS_RETURN_IF_ERROR(txn.Delete(t.stats, record.path));
  }
  DFS_RETURN_IF_ERROR(txn.Delete(t.signatures, record.path));
  DFS_RETURN_IF_ERROR(txn.Commit("recording " + record.path));
  return seq;
}

Result<std::pair<std::optional<FileRecord>, std::optional<LocalStat>>>
StateStore::GetWithStat(const std::string& path) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  std::pair<std::optional<FileRecord>, std::optional<LocalStat>> out;
  DFS_ASSIGN_OR_RETURN(auto record, txn.Get(tables_->records, path));
  if (record) {
    DFS_ASSIGN_OR_RETURN(out.first, DecodeRecord(*record));
  }
  DFS_ASSIGN_OR_RETURN(auto stat, txn.Get(tables_->stats, path));
  if (stat) {
    DFS_ASSIGN_OR_RETURN(out.second, DecodeStat(*stat));
  }
  return out;
}

Result<std::optional<LocalStat>> StateStore::GetStat(
    const std::string& path) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(tables_->stats, path));
  if (!bytes) return std::optional<LocalStat>();
  DFS_ASSIGN_OR_RETURN(LocalStat s, DecodeStat(*bytes));
  return std::optional<LocalStat>(s);
}

Status StateStore::PutStat(const std::string& path, const LocalStat& stat) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginWrite());
  DFS_RETURN_IF_ERROR(txn.Put(tables_->stats, path, EncodeStat(stat)));
  return txn.Commit("recording the stat of " + path);
}

Status StateStore::Remove(const std::string& path) {
  const Tables& t = *tables_;
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginWrite());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(t.records, path));
  if (!bytes) return Status::Ok();
  DFS_ASSIGN_OR_RETURN(FileRecord old, DecodeRecord(*bytes));
  DFS_RETURN_IF_ERROR(txn.Delete(t.by_seq, EncodeBigEndian64(old.seq)));
  DFS_RETURN_IF_ERROR(txn.Delete(t.by_hash, HashKey(old.hash, old.path)));
  DFS_RETURN_IF_ERROR(txn.Delete(t.records, path));
  DFS_RETURN_IF_ERROR(txn.Delete(t.stats, path));
  DFS_RETURN_IF_ERROR(txn.Delete(t.signatures, path));
  return txn.Commit("forgetting " + path);
}

Status StateStore::PutSignature(const std::string& path, const LocalStat& stat,
                                const ChunkParams& params,
                                const std::vector<ChunkEntry>& chunks) {
  ByteWriter w;
  w.Raw(EncodeStat(stat));
  EncodeChunkParams(w, params);
  w.Raw(EncodeEntries(chunks));
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginWrite());
  DFS_RETURN_IF_ERROR(txn.Put(tables_->signatures, path, w.data()));
  return txn.Commit("keeping the signature of " + path);
}

Result<std::optional<std::vector<ChunkEntry>>> StateStore::GetSignature(
    const std::string& path, const LocalStat& stat,
    const ChunkParams& params) const {
  using Out = std::optional<std::vector<ChunkEntry>>;
  if (tables_->signatures == 0) return Out();
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(tables_->signatures, path));
  if (!bytes) return Out();
  ByteReader r(*bytes);
  DFS_ASSIGN_OR_RETURN(std::string_view stat_bytes,
                       r.Raw("signature stat", kStatBytes));
  DFS_ASSIGN_OR_RETURN(LocalStat kept, DecodeStat(stat_bytes));
  DFS_ASSIGN_OR_RETURN(ChunkParams kept_params, DecodeChunkParams(r));
  if (!(kept == stat) || kept_params != params) return Out();
  DFS_ASSIGN_OR_RETURN(std::string_view stream,
                       r.Raw("signature", r.remaining()));
  DFS_ASSIGN_OR_RETURN(auto entries, DecodeEntries(stream, kept_params.max));
  uint64_t total = 0;
  for (const auto& e : entries) total += e.length;
  if (total != stat.size) {
    return Fail(Errc::kCorrupt,
                "the signature kept for " + path + " does not cover the file");
  }
  return Out(std::move(entries));
}

Result<std::pair<uint64_t, std::vector<FileRecord>>> StateStore::SinceWithHigh(
    uint64_t since, size_t max) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(uint64_t high, ReadSeq(txn, tables_->meta));
  std::vector<FileRecord> out;
  DFS_ASSIGN_OR_RETURN(lmdb::Cursor cursor, txn.OpenCursor(tables_->by_seq));
  DFS_ASSIGN_OR_RETURN(auto at, cursor.Seek(EncodeBigEndian64(since + 1)));
  while (at && out.size() < max) {
    DFS_ASSIGN_OR_RETURN(
        auto bytes, txn.Get(tables_->records, DecodeSeqEntry(at->value).path));
    if (!bytes) {
      return Fail(Errc::kCorrupt, "the sequence index names a missing record");
    }
    DFS_ASSIGN_OR_RETURN(FileRecord r, DecodeRecord(*bytes));
    out.push_back(std::move(r));
    DFS_ASSIGN_OR_RETURN(at, cursor.Next());
  }
  return std::pair{high, std::move(out)};
}

Result<std::vector<FileRecord>> StateStore::Since(uint64_t since,
                                                  size_t max) const {
  DFS_ASSIGN_OR_RETURN(auto both, SinceWithHigh(since, max));
  return std::move(both.second);
}

Result<Pending> StateStore::PendingAfter(uint64_t since,
                                         uint64_t count_limit) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(lmdb::Cursor cursor, txn.OpenCursor(tables_->by_seq));
  DFS_ASSIGN_OR_RETURN(auto at, cursor.Seek(EncodeBigEndian64(since + 1)));
  Pending out;
  if (at) out.oldest_recorded_ms = DecodeSeqEntry(at->value).recorded_ms;
  while (at && out.records < count_limit) {
    ++out.records;
    DFS_ASSIGN_OR_RETURN(at, cursor.Next());
  }
  out.complete = !at;
  return out;
}

Result<uint64_t> StateStore::HighSeq() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  return ReadSeq(txn, tables_->meta);
}

Result<std::vector<std::string>> StateStore::PathsWithHash(
    const Hash128& hash) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  std::vector<std::string> out;
  const std::string prefix = HashPrefix(hash);
  DFS_RETURN_IF_ERROR(
      txn.Scan(tables_->by_hash, prefix,
               [&](std::string_view k, std::string_view) -> Result<bool> {
                 out.emplace_back(k.substr(prefix.size()));
                 return out.size() < 16;
               }));
  return out;
}

Status StateStore::ForEach(
    const std::function<bool(const FileRecord&)>& visit) const {
  return ForEachUnderPrefix("", visit);
}

// Walks in pieces of kRecordsPerRead, each in a read transaction of its
// own: a long read would keep LMDB from reusing the pages every write made
// meanwhile frees, and the file would grow with each scan.
Status StateStore::ForEachUnderPrefix(
    const std::string& prefix,
    const std::function<bool(const FileRecord&)>& visit) const {
  constexpr size_t kRecordsPerRead = 1024;
  std::string after;  // the last path visited; empty: start at `prefix`
  for (;;) {
    std::vector<FileRecord> piece;
    {
      DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
      DFS_ASSIGN_OR_RETURN(lmdb::Cursor cursor,
                           txn.OpenCursor(tables_->records));
      DFS_ASSIGN_OR_RETURN(auto at,
                           cursor.Seek(after.empty() ? prefix : after));
      if (at && !after.empty() && at->key == after) {
        DFS_ASSIGN_OR_RETURN(at, cursor.Next());
      }
      while (at && piece.size() < kRecordsPerRead &&
             at->key.substr(0, prefix.size()) == prefix) {
        DFS_ASSIGN_OR_RETURN(FileRecord r, DecodeRecord(at->value));
        piece.push_back(std::move(r));
        DFS_ASSIGN_OR_RETURN(at, cursor.Next());
      }
    }
    for (const FileRecord& r : piece) {
      if (!visit(r)) return Status::Ok();
    }
    if (piece.size() < kRecordsPerRead) return Status::Ok();
    after = piece.back().path;
  }
}

Status StateStore::Sync() { return env_->Sync(); }

Status StateStore::ForEachUnder(
    const std::string& dir,
    const std::function<bool(const FileRecord&)>& visit) const {
  return ForEachUnderPrefix(dir + "/", visit);
}

Result<uint64_t> StateStore::RecordCount() const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  return txn.Count(tables_->records);
}

Result<PeerState> StateStore::Peer(const std::string& name) const {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginRead());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(tables_->peers, name));
  if (!bytes) return PeerState{};
  return DecodePeer(*bytes);
}

Status StateStore::UpdatePeer(const std::string& name,
                              const std::function<void(PeerState&)>& change) {
  DFS_ASSIGN_OR_RETURN(lmdb::Txn txn, env_->BeginWrite());
  DFS_ASSIGN_OR_RETURN(auto bytes, txn.Get(tables_->peers, name));
  PeerState state;
  if (bytes) {
    DFS_ASSIGN_OR_RETURN(state, DecodePeer(*bytes));
  }
  change(state);
  DFS_RETURN_IF_ERROR(txn.Put(tables_->peers, name, EncodePeer(state)));
  return txn.Commit("recording peer " + name);
}

}  // namespace dfs::repl
