// The delta engine: chunking stability, signatures, delta/patch round
// trips over random files and random edit scripts, reuse across files,
// hostile deltas and hostile peers, and the sync exchange over an
// in-memory channel.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "dfs/repl/chunker.h"
#include "dfs/repl/delta.h"
#include "dfs/repl/files.h"
#include "dfs/repl/signature.h"
#include "dfs/repl/sync.h"
#include "testing/seed.h"
#include "testing/temp_dir.h"

namespace dfs::repl {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

Bytes RandomBytes(std::mt19937_64& rng, size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Text-like bytes (compressible), for the zstd paths.
Bytes TextBytes(std::mt19937_64& rng, size_t n) {
  static const char* words[] = {"int ",  "return ", "if (", "x",
                                "y",     ") {\n",   "}\n",  "for ",
                                "value", " = ",     "0;\n", "// note\n"};
  Bytes out;
  while (out.size() < n) {
    const char* w = words[rng() % 12];
    out.insert(out.end(), w, w + strlen(w));
  }
  out.resize(n);
  return out;
}

void WriteFile(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), b.size());
}
Bytes ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}
size_t FilesIn(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), {}));
}

// A random edit script: inserts, deletes, overwrites, moves and appends.
Bytes Edit(std::mt19937_64& rng, Bytes data, int edits) {
  for (int e = 0; e < edits; ++e) {
    const size_t at = data.empty() ? 0 : rng() % data.size();
    const size_t n = 1 + rng() % 20000;
    switch (rng() % 5) {
      case 0: {  // insert
        Bytes ins = RandomBytes(rng, n);
        data.insert(data.begin() + at, ins.begin(), ins.end());
        break;
      }
      case 1:  // delete
        data.erase(data.begin() + at,
                   data.begin() + std::min(data.size(), at + n));
        break;
      case 2:  // overwrite
        for (size_t i = at; i < std::min(data.size(), at + n); ++i)
          data[i] = rng();
        break;
      case 3: {  // move a range elsewhere
        const size_t end = std::min(data.size(), at + n);
        Bytes piece(data.begin() + at, data.begin() + end);
        data.erase(data.begin() + at, data.begin() + end);
        const size_t to = data.empty() ? 0 : rng() % data.size();
        data.insert(data.begin() + to, piece.begin(), piece.end());
        break;
      }
      default: {  // append
        Bytes tail = RandomBytes(rng, n);
        data.insert(data.end(), tail.begin(), tail.end());
      }
    }
  }
  return data;
}

TEST(ChunkerTest, ParamsAreChecked) {
  EXPECT_TRUE(ValidateParams({}));
  EXPECT_FALSE(ValidateParams({32, 2048, 16384}));
  EXPECT_FALSE(ValidateParams({512, 3000, 16384}));
  EXPECT_FALSE(ValidateParams({4096, 2048, 16384}));
  EXPECT_FALSE(ValidateParams({512, 2048, 8u << 20}));
}

TEST(ChunkerTest, ChunksCoverTheDataWithinTheBounds) {
  std::mt19937_64 rng(1);
  const Bytes data = RandomBytes(rng, 3 << 20);
  const ChunkParams p;
  const auto lengths = ChunkLengths(p, data);
  uint64_t total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    total += lengths[i];
    if (i + 1 < lengths.size()) {
      EXPECT_GT(lengths[i], p.min);
      EXPECT_LE(lengths[i], p.max);
    }
  }
  EXPECT_EQ(total, data.size());
  // The average lands near avg (min is skipped, so a little above).
  const double mean = static_cast<double>(data.size()) / lengths.size();
  EXPECT_GT(mean, p.avg * 0.8);
  EXPECT_LT(mean, p.avg * 2.0);
  EXPECT_TRUE(ChunkLengths(p, {}).empty());
  const Bytes small = RandomBytes(rng, 100);
  EXPECT_EQ(ChunkLengths(p, small), std::vector<uint32_t>{100});
}

TEST(ChunkerTest, AnInsertOrDeleteChangesOnlyTheChunksNearIt) {
  std::mt19937_64 rng(2);
  const Bytes data = RandomBytes(rng, 4 << 20);
  const ChunkParams p;
  auto hashes = [&](const Bytes& d) {
    std::set<std::pair<uint64_t, uint64_t>> out;
    for (const auto& e : ChunkData(p, d)) out.insert({e.hash.low, e.hash.high});
    return out;
  };
  const auto before = hashes(data);
  for (int trial = 0; trial < 20; ++trial) {
    Bytes edited = data;
    const size_t at = rng() % data.size();
    if (trial % 2) {
      edited.insert(edited.begin() + at, static_cast<uint8_t>(rng()));
    } else {
      edited.erase(edited.begin() + at);
    }
    const auto after = hashes(edited);
    size_t fresh = 0;
    for (const auto& h : after) fresh += !before.count(h);
    EXPECT_LE(fresh, 3u) << "a 1-byte edit at " << at << " made " << fresh
                         << " new chunks";
  }
}

TEST(ChunkerTest, ParallelChunkingCutsExactlyWhereTheSequentialWalkDoes) {
  std::mt19937_64 rng(13);
  // Random bytes, text, and a stretch with no cut points at all (zeros:
  // every cut forced at max, from wherever a segment happened to start).
  Bytes mixed = RandomBytes(rng, 9 << 20);
  mixed.resize(mixed.size() + (11 << 20), 0);
  const Bytes text = TextBytes(rng, 7 << 20);
  mixed.insert(mixed.end(), text.begin(), text.end());
  const std::vector<Bytes> inputs = {RandomBytes(rng, (33 << 20) + 12345),
                                     TextBytes(rng, 21 << 20), mixed,
                                     Bytes(3 << 20, 7)};  // too small to split
  for (size_t n = 0; n < inputs.size(); ++n) {
    for (const ChunkParams& params : {ChunkParams{}, ChunkParams{64, 256, 2048},
                                      ChunkParams{2048, 8192, 65536}}) {
      const auto sequential = ChunkData(params, inputs[n], 1);
      for (unsigned threads : {2u, 3u, 8u}) {
        SCOPED_TRACE("input " + std::to_string(n) + ", avg " +
                     std::to_string(params.avg) + ", " +
                     std::to_string(threads) + " threads");
        EXPECT_TRUE(ChunkData(params, inputs[n], threads) == sequential);
      }
    }
  }
}

TEST(SignatureTest, EntriesAndFilesRoundTripAndRejectDamage) {
  std::mt19937_64 rng(3);
  const Bytes data = RandomBytes(rng, 300000);
  SignatureFile sig;
  sig.entries = ChunkData(sig.params.data, data);
  sig.basis_size = data.size();
  const std::string bytes = EncodeSignatureFile(sig);
  auto back = DecodeSignatureFile(bytes);
  ASSERT_TRUE(back) << back.error().context;
  EXPECT_EQ(back->entries, sig.entries);
  EXPECT_EQ(back->basis_size, data.size());
  for (size_t cut : {size_t{0}, size_t{7}, size_t{40}, bytes.size() - 1}) {
    EXPECT_FALSE(DecodeSignatureFile(bytes.substr(0, cut))) << cut;
  }
  std::string wrong_size = bytes;
  wrong_size[8 + 2 + 24 + 4] ^= 1;  // basis size
  EXPECT_FALSE(DecodeSignatureFile(wrong_size));
  std::string newer = bytes;
  newer[8] = 2;
  EXPECT_EQ(DecodeSignatureFile(newer).error().code,
            make_error_code(Errc::kUnsupported));
  EXPECT_FALSE(DecodeEntries(std::string(16, 'x') + std::string(1, '\0'),
                             100));  // length 0
}

TEST(BasisTest, KeptChunksAreUsedOnlyWhenTheyCoverTheFile) {
  testing::TempDir tmp;
  std::mt19937_64 rng(11);
  const Bytes data = RandomBytes(rng, 300'000);
  const fs::path path = tmp.path() / "old.bin";
  WriteFile(path, data);
  const ChunkParams params;
  const auto chunked = ChunkData(params, data);
  // Kept chunks: taken as they are (a made-up list that still covers the
  // file shows they were not recomputed).
  std::vector<ChunkEntry> kept = {{Hash128{1, 2}, 100'000},
                                  {Hash128{3, 4}, 200'000}};
  auto with_kept =
      Basis::Open(std::vector<Basis::Source>{{path.string(), &kept}}, params);
  ASSERT_TRUE(with_kept.has_value());
  EXPECT_EQ(with_kept->entries(), kept);
  EXPECT_EQ(with_kept->Chunk(1).size(), 200'000u);
  // A list that does not cover the file (it changed) is not trusted.
  std::vector<ChunkEntry> stale = {{Hash128{1, 2}, 5}};
  auto rechunked =
      Basis::Open(std::vector<Basis::Source>{{path.string(), &stale}}, params);
  ASSERT_TRUE(rechunked.has_value());
  EXPECT_EQ(rechunked->entries(), chunked);
}

TEST(SignatureTest, LevelsGrowWithSizeAndStopAtTheTop) {
  std::mt19937_64 rng(4);
  SignatureParams p;
  const Bytes small = RandomBytes(rng, 10000);
  EXPECT_EQ(BuildLevels(EncodeEntries(ChunkData(p.data, small)), p).size(), 1u);
  const Bytes big = RandomBytes(rng, 16 << 20);
  const auto levels = BuildLevels(EncodeEntries(ChunkData(p.data, big)), p);
  EXPECT_GE(levels.size(), 2u);
  EXPECT_LE(levels.back().size(), p.top_bytes);
  for (size_t k = 1; k < levels.size(); ++k)
    EXPECT_LT(levels[k].size(), levels[k - 1].size());
  p.top_bytes = 256;
  EXPECT_GE(BuildLevels(EncodeEntries(ChunkData(p.data, big)), p).size(), 3u);
}

// patch(old, delta(sig(old), new)) == new, through the file formats.
class DeltaTest : public ::testing::Test {
 protected:
  // Returns the literal bytes the delta carried.
  uint64_t RoundTrip(const Bytes& old_data, const Bytes& new_data,
                     std::vector<Bytes> others = {}, int zstd = 3) {
    const fs::path old_path = dir_.path() / "old",
                   new_path = dir_.path() / "new";
    WriteFile(old_path, old_data);
    WriteFile(new_path, new_data);
    std::vector<std::string> basis_paths = {old_path.string()};
    for (size_t i = 0; i < others.size(); ++i) {
      const fs::path p = dir_.path() / ("other" + std::to_string(i));
      WriteFile(p, others[i]);
      basis_paths.push_back(p.string());
    }
    SignatureParams params;
    auto basis = Basis::Open(basis_paths, params.data);
    EXPECT_TRUE(basis);
    SignatureFile sig{params, basis->size(), basis->entries()};
    auto decoded = DecodeSignatureFile(EncodeSignatureFile(sig));
    EXPECT_TRUE(decoded);
    DeltaHeader header{new_data.size(), HashBytes(new_data),
                       decoded->entries.size()};
    std::string file = DeltaFilePrefix(params.data, header);
    DeltaEncoder encoder(decoded->entries, zstd);
    encoder.Encode(new_data, ChunkData(params.data, new_data),
                   [&](std::string&& r) { file += r; });
    file += kEndRecord;
    auto parts = SplitDeltaFile(file);
    EXPECT_TRUE(parts) << parts.error().context;
    const fs::path out = dir_.path() / "out";
    auto writer =
        PatchWriter::Create(out.string(), *basis, parts->header, false);
    EXPECT_TRUE(writer);
    auto applied = (*writer)->Apply(parts->records);
    EXPECT_TRUE(applied) << applied.error().context;
    auto committed = (*writer)->Commit();
    EXPECT_TRUE(committed) << committed.error().context;
    EXPECT_TRUE(ReadFile(out) == new_data);
    return encoder.stats().literal_bytes;
  }
  testing::TempDir dir_;
};

TEST_F(DeltaTest, RandomFilesAndRandomEditScriptsRoundTrip) {
  std::mt19937_64 rng(testing::TestSeed(5));
  for (int trial = 0; trial < 40; ++trial) {
    const size_t size = trial % 8 == 0 ? rng() % 600 : rng() % (1 << 20);
    const Bytes old_data =
        trial % 3 ? RandomBytes(rng, size) : TextBytes(rng, size);
    const Bytes new_data = Edit(rng, old_data, 1 + rng() % 12);
    SCOPED_TRACE("trial " + std::to_string(trial));
    RoundTrip(old_data, new_data);
  }
}

TEST_F(DeltaTest, EdgeCases) {
  std::mt19937_64 rng(6);
  const Bytes some = RandomBytes(rng, 200000);
  RoundTrip({}, {});
  RoundTrip({}, some);    // nothing to copy from
  RoundTrip(some, {});    // emptied
  RoundTrip(some, some);  // unchanged
  RoundTrip(RandomBytes(rng, 10),
            RandomBytes(rng, 20));  // smaller than a chunk
  Bytes grown = some;
  const Bytes tail = TextBytes(rng, 3 << 20);  // more than one literal record
  grown.insert(grown.end(), tail.begin(), tail.end());
  EXPECT_EQ(RoundTrip(some, grown),
            tail.size() + ChunkData({}, some).back().length);
  EXPECT_EQ(RoundTrip(some, some), 0u);
  RoundTrip(some, grown, {}, /*zstd=*/0);
}

// Every op the records describe, in order.
std::vector<DeltaOp> OpsOf(const std::string& records, uint64_t basis_chunks) {
  std::vector<DeltaOp> ops;
  auto st = DecodeRecords(records, basis_chunks, [&](const DeltaOp& op) {
    DeltaOp copy = op;
    copy.literal = {};  // only valid during the callback
    ops.push_back(copy);
    return Status::Ok();
  });
  EXPECT_TRUE(st) << st.error().context;
  return ops;
}

TEST_F(DeltaTest, ALongCopyRunIsHandedOnBeforeTheLiteralsAfterIt) {
  // A grown log: the receiver can write the copied part while the sender
  // still compresses what was appended.
  std::mt19937_64 rng(11);
  const Bytes old_data = RandomBytes(rng, 16 << 20);
  Bytes new_data = old_data;
  const Bytes tail = TextBytes(rng, 6 << 20);
  new_data.insert(new_data.end(), tail.begin(), tail.end());
  const auto basis = ChunkData({}, old_data);
  DeltaEncoder encoder(basis, 3);
  std::vector<std::string> batches;
  encoder.Encode(new_data, ChunkData({}, new_data),
                 [&](std::string&& r) { batches.push_back(std::move(r)); });
  ASSERT_GE(batches.size(), 3u);
  const auto first = OpsOf(batches[0], basis.size());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].kind, DeltaOp::kCopy);
  EXPECT_EQ(first[0].first, 0u);
  EXPECT_EQ(first[0].count, basis.size() - 1);  // all but the cut-off last
  // The appended text went out as several records, in several batches.
  size_t literal_records = 0;
  for (size_t i = 1; i < batches.size(); ++i) {
    for (const auto& op : OpsOf(batches[i], basis.size())) {
      literal_records += op.kind == DeltaOp::kLiteral;
    }
  }
  EXPECT_GE(literal_records, 6u);
}

TEST_F(DeltaTest, RepeatedContentIsCopiedAsOneRun) {
  // A basis holding the same block twice: the copy of it follows the
  // basis in order (one run), not the first copy of each chunk.
  std::mt19937_64 rng(12);
  const Bytes block = RandomBytes(rng, 256 << 10);
  Bytes twice = block;
  twice.insert(twice.end(), block.begin(), block.end());
  const auto basis = ChunkData({}, twice);
  DeltaEncoder encoder(basis, 3);
  std::string records;
  encoder.Encode(twice, basis, [&](std::string&& r) { records += r; });
  const auto ops = OpsOf(records, basis.size());
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].first, 0u);
  EXPECT_EQ(ops[0].count, basis.size());
}

TEST_F(DeltaTest, HashesThatShareTheirLowWordAreStillTold) {
  // The receiver chooses the hashes it lists; ones alike in their low 64
  // bits must neither be confused nor hide each other.
  std::vector<ChunkEntry> basis;
  for (uint64_t i = 0; i < 2000; ++i) {
    basis.push_back({Hash128{0x1234, i * 2}, 1});  // even high words
  }
  std::vector<ChunkEntry> wanted;
  for (uint64_t i = 0; i < 400; ++i) {
    wanted.push_back({Hash128{0x1234, i * 10}, 1});      // in the basis
    wanted.push_back({Hash128{0x1234, i * 10 + 1}, 1});  // odd: not in it
  }
  const Bytes data(wanted.size(), 'x');
  DeltaEncoder encoder(basis, 0);
  std::string records;
  encoder.Encode(data, wanted, [&](std::string&& r) { records += r; });
  const auto ops = OpsOf(records, basis.size());
  ASSERT_EQ(ops.size(), wanted.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_EQ(ops[i].kind, DeltaOp::kCopy) << i;
      EXPECT_EQ(ops[i].first, i / 2 * 5) << i;
    } else {
      EXPECT_EQ(ops[i].kind, DeltaOp::kLiteral) << i;
    }
  }
  EXPECT_EQ(encoder.stats().copied_bytes, 400u);
  EXPECT_EQ(encoder.stats().literal_bytes, 400u);
}

TEST_F(DeltaTest, AFileTooBigForTheDiskIsRefusedBeforeAnythingIsWritten) {
  const fs::path old_path = dir_.path() / "old";
  WriteFile(old_path, Bytes(1000, 'a'));
  auto basis = Basis::Open({old_path.string()}, ChunkParams{});
  ASSERT_TRUE(basis);
  const auto space = fs::space(dir_.path());
  // More than the disk has free, well under any filesystem's size limit.
  const DeltaHeader header{space.available + (uint64_t{1} << 30), Hash128{},
                           basis->entries().size()};
  const fs::path out = dir_.path() / "out";
  auto writer = PatchWriter::Create(out.string(), *basis, header, false);
  if (writer) GTEST_SKIP() << "this filesystem does not reserve space";
  EXPECT_EQ(writer.error().code, Errc::kIo);
  EXPECT_NE(writer.error().context.find("disk full"), std::string::npos)
      << writer.error().context;
  EXPECT_EQ(FilesIn(dir_.path()), 1u);  // only the old file
}

TEST_F(DeltaTest, AReplacedFileKeepsItsPermissionsANewOneFollowsTheUmask) {
  std::mt19937_64 rng(14);
  const Bytes old_data = RandomBytes(rng, 50000);
  const Bytes new_data = Edit(rng, old_data, 2);
  const fs::path old_path = dir_.path() / "old";
  WriteFile(old_path, old_data);
  auto basis = Basis::Open({old_path.string()}, ChunkParams{});
  ASSERT_TRUE(basis);
  auto patch_to = [&](const fs::path& out) {
    DeltaEncoder encoder(basis->entries(), 3);
    std::string records;
    encoder.Encode(new_data, ChunkData({}, new_data),
                   [&](std::string&& r) { records += r; });
    auto writer =
        PatchWriter::Create(out.string(), *basis,
                            DeltaHeader{new_data.size(), HashBytes(new_data),
                                        basis->entries().size()},
                            false);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Apply(records));
    ASSERT_TRUE((*writer)->Commit());
    EXPECT_TRUE(ReadFile(out) == new_data);
  };
  // An existing file replaced: its permission bits stay (set-id ones go).
  const fs::path kept = dir_.path() / "kept";
  WriteFile(kept, old_data);
  fs::permissions(kept, fs::perms::owner_read | fs::perms::owner_write |
                            fs::perms::group_read | fs::perms::set_gid);
  patch_to(kept);
  EXPECT_EQ(fs::status(kept).permissions(), fs::perms::owner_read |
                                                fs::perms::owner_write |
                                                fs::perms::group_read);
  // A new file: 0666 less the umask, as any new file.
  const mode_t mask = ::umask(027);
  const fs::path fresh = dir_.path() / "fresh";
  patch_to(fresh);
  ::umask(mask);
  EXPECT_EQ(fs::status(fresh).permissions(), fs::perms::owner_read |
                                                 fs::perms::owner_write |
                                                 fs::perms::group_read);
}

TEST_F(DeltaTest, ChunksOfOtherLocalFilesAreReused) {
  std::mt19937_64 rng(7);
  const Bytes other = RandomBytes(rng, 2 << 20);
  // A renamed copy: the new name has no old version, but another local
  // file has every chunk.
  EXPECT_EQ(RoundTrip({}, other, {other}), 0u);
  // A similar file costs about its differences.
  Bytes similar = other;
  for (size_t i = 1000000; i < 1010000; ++i) similar[i] ^= 0x5a;
  EXPECT_LT(RoundTrip({}, similar, {other}), 10000u + 4 * 16384);
}

TEST_F(DeltaTest, HostileDeltasAreRefusedAndLeaveNothingVisible) {
  std::mt19937_64 rng(8);
  const Bytes old_data = RandomBytes(rng, 100000);
  const Bytes new_data = Edit(rng, old_data, 3);
  WriteFile(dir_.path() / "old", old_data);
  auto basis = Basis::Open({(dir_.path() / "old").string()}, ChunkParams{});
  ASSERT_TRUE(basis);
  const uint64_t chunks = basis->entries().size();
  const fs::path out = dir_.path() / "out";
  const DeltaHeader good{new_data.size(), HashBytes(new_data), chunks};
  auto try_patch = [&](const DeltaHeader& header,
                       const std::string& records) -> Status {
    auto writer = PatchWriter::Create(out.string(), *basis, header, false);
    if (!writer) return Unexpected(writer.error());
    DFS_RETURN_IF_ERROR((*writer)->Apply(records));
    return (*writer)->Commit();
  };
  auto varint = [](uint64_t v) {
    std::string s;
    AppendVarint(s, v);
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"copy past the basis", "\x01" + varint(chunks) + varint(1)},
      {"copy count overflow", "\x01" + varint(1) + varint(~uint64_t{0})},
      {"empty copy", "\x01" + varint(0) + varint(0)},
      {"huge literal", "\x02" + varint(uint64_t{1} << 40) + "abc"},
      {"truncated literal", "\x02" + varint(100) + "abc"},
      {"bad zstd", "\x03" + varint(100) + varint(5) + "hello"},
      {"unknown record", "\x09"},
      {"bad varint",
       std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11)},
      {"wrong content",
       "\x02" + varint(new_data.size()) + std::string(new_data.size(), 'x')},
      {"too much output",
       "\x02" + varint(5) + "12345" + "\x01" + varint(0) + varint(chunks)},
      {"too little output", "\x02" + varint(5) + "12345"},
  };
  for (const auto& [what, records] : cases) {
    Status st = try_patch(good, records);
    EXPECT_FALSE(st) << what;
    EXPECT_FALSE(fs::exists(out)) << what;
    EXPECT_EQ(FilesIn(dir_.path()), 1u)
        << what << ": a temp file was left behind";
  }
  DeltaHeader other_basis = good;
  other_basis.basis_chunks = chunks + 1;
  EXPECT_FALSE(try_patch(other_basis, ""));
  EXPECT_FALSE(SplitDeltaFile("DFSRDLT1"));
  EXPECT_FALSE(SplitDeltaFile(DeltaFilePrefix({}, good)));  // no end record
}

// Two sides of a sync in one process, joined by queues.
class QueueChannel final : public Channel {
 public:
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<SyncFrame> frames;
    bool closed = false;
  };
  QueueChannel(std::shared_ptr<Queue> in, std::shared_ptr<Queue> out)
      : in_(std::move(in)), out_(std::move(out)) {}
  ~QueueChannel() override {
    std::lock_guard lock(out_->mu);
    out_->closed = true;
    out_->cv.notify_all();
  }
  Status Send(SyncMessage type, std::string_view payload) override {
    if (payload.size() > kMaxSyncFrameBytes)
      return Fail(Errc::kLimitExceeded, "frame");
    if (tamper) tamper(type, payload);
    std::lock_guard lock(out_->mu);
    out_->frames.push_back({type, std::string(payload)});
    if (tampered) out_->frames.back().payload = *tampered, tampered.reset();
    sent_ += kSyncFrameOverheadBytes + payload.size();
    out_->cv.notify_all();
    return Status::Ok();
  }
  Result<SyncFrame> Receive() override {
    std::unique_lock lock(in_->mu);
    in_->cv.wait(lock, [&] { return !in_->frames.empty() || in_->closed; });
    if (in_->frames.empty()) return Fail(Errc::kIo, "closed");
    SyncFrame f = std::move(in_->frames.front());
    in_->frames.pop_front();
    received_ += kSyncFrameOverheadBytes + f.payload.size();
    return f;
  }
  // Lets a test rewrite what this side sends.
  std::function<void(SyncMessage, std::string_view)> tamper;
  std::optional<std::string> tampered;

 private:
  std::shared_ptr<Queue> in_, out_;
};

class SyncTest : public ::testing::Test {
 protected:
  struct Outcome {
    Result<SyncStats> receiver = SyncStats{}, sender = SyncStats{};
  };
  Outcome Sync(
      const Bytes& old_data, const Bytes& new_data, ReceiverOptions ropt = {},
      std::function<void(QueueChannel&, QueueChannel&)> setup = nullptr) {
    WriteFile(dir_.path() / "old", old_data);
    auto basis =
        Basis::Open({(dir_.path() / "old").string()}, ropt.params.data);
    EXPECT_TRUE(basis);
    ropt.durable = false;
    auto a = std::make_shared<QueueChannel::Queue>();
    auto b = std::make_shared<QueueChannel::Queue>();
    Outcome o;
    {
      auto receiver_side = std::make_unique<QueueChannel>(a, b);
      auto sender_side = std::make_unique<QueueChannel>(b, a);
      if (setup) setup(*receiver_side, *sender_side);
      std::thread receiver([&] {
        o.receiver = RunReceiver(*receiver_side, *basis,
                                 (dir_.path() / "out").string(), ropt);
        receiver_side.reset();  // closes: the sender stops waiting
      });
      o.sender = RunSender(*sender_side, new_data, {ropt.params.data, 3});
      sender_side.reset();
      receiver.join();
    }
    return o;
  }
  testing::TempDir dir_;
};

TEST_F(SyncTest, RebuildsTheNewFileFetchingOnlyChangedSignatureChunks) {
  std::mt19937_64 rng(9);
  const Bytes old_data = RandomBytes(rng, 24 << 20);
  Bytes new_data = old_data;
  for (size_t i = 5000000; i < 5004000; ++i) new_data[i] = rng();
  auto o = Sync(old_data, new_data);
  ASSERT_TRUE(o.receiver) << o.receiver.error().context;
  ASSERT_TRUE(o.sender) << o.sender.error().context;
  EXPECT_TRUE(ReadFile(dir_.path() / "out") == new_data);
  EXPECT_GE(o.receiver->levels, 3u);
  // Level 1 alone is ~12,000 entries x 18 bytes; what crossed is a small
  // part of it.
  const size_t level1 = EncodeEntries(ChunkData({}, old_data)).size();
  EXPECT_LT(o.receiver->signature_bytes, level1 / 10);
  EXPECT_LT(o.sender->delta.literal_bytes, 4000u + 4 * 16384);
  EXPECT_EQ(o.receiver->bytes_sent, o.sender->bytes_received);
}

TEST_F(SyncTest, RandomEditsRoundTrip) {
  std::mt19937_64 rng(testing::TestSeed(10));
  for (int trial = 0; trial < 8; ++trial) {
    const Bytes old_data = RandomBytes(rng, rng() % (3 << 20));
    const Bytes new_data = Edit(rng, old_data, 1 + rng() % 10);
    ReceiverOptions ropt;
    ropt.params.top_bytes = 256;  // many levels even for small files
    auto o = Sync(old_data, new_data, ropt);
    ASSERT_TRUE(o.receiver) << o.receiver.error().context;
    ASSERT_TRUE(o.sender) << o.sender.error().context;
    EXPECT_TRUE(ReadFile(dir_.path() / "out") == new_data);
  }
}

TEST_F(SyncTest, AReceiverSendingWrongChunksIsCaught) {
  std::mt19937_64 rng(11);
  const Bytes old_data = RandomBytes(rng, 8 << 20);
  Bytes new_data = old_data;
  new_data[4000000] ^= 1;
  auto o =
      Sync(old_data, new_data, {}, [](QueueChannel& receiver, QueueChannel&) {
        receiver.tamper = [&receiver](SyncMessage type,
                                      std::string_view payload) {
          if (type == SyncMessage::kChunks) {
            std::string bad(payload);
            bad.back() ^= 1;
            receiver.tampered = bad;
          }
        };
      });
  ASSERT_FALSE(o.sender);
  EXPECT_NE(o.sender.error().context.find("hash"), std::string::npos)
      << o.sender.error().context;
  EXPECT_FALSE(o.receiver);
  EXPECT_FALSE(fs::exists(dir_.path() / "out"));
}

TEST_F(SyncTest, ASenderLyingAboutTheFileInstallsNothing) {
  std::mt19937_64 rng(12);
  const Bytes old_data = RandomBytes(rng, 1 << 20);
  const Bytes new_data = Edit(rng, old_data, 2);
  auto o =
      Sync(old_data, new_data, {}, [](QueueChannel&, QueueChannel& sender) {
        sender.tamper = [&sender](SyncMessage type, std::string_view payload) {
          if (type == SyncMessage::kDeltaStart) {
            std::string bad(payload);
            bad[8] ^= 1;  // the whole-file hash
            sender.tampered = bad;
          }
        };
      });
  ASSERT_FALSE(o.receiver);
  EXPECT_NE(o.receiver.error().context.find("hash"), std::string::npos);
  EXPECT_FALSE(o.sender);
  EXPECT_FALSE(fs::exists(dir_.path() / "out"));
  EXPECT_EQ(FilesIn(dir_.path()), 1u);
}

// The sides as state machines: one thread, no channels, many exchanges
// at once, each moved a frame at a time in turn.
TEST(SyncMachineTest, OneThreadDrivesManyExchangesAtOnce) {
  testing::TempDir dir;
  std::mt19937_64 rng(testing::TestSeed(21));
  constexpr int kTransfers = 12;
  struct Transfer {
    Bytes old_data, new_data;
    std::unique_ptr<Basis> basis;
    std::unique_ptr<SyncReceiver> receiver;
    std::unique_ptr<SyncSender> sender;
    fs::path out;
  };
  std::vector<Transfer> transfers(kTransfers);
  ReceiverOptions ropt;
  ropt.durable = false;
  ropt.params.top_bytes = 256;  // several levels: several round trips
  for (int i = 0; i < kTransfers; ++i) {
    Transfer& t = transfers[i];
    t.old_data = RandomBytes(rng, 200'000 + rng() % 2'000'000);
    t.new_data = Edit(rng, t.old_data, 1 + static_cast<int>(rng() % 6));
    const fs::path old_path = dir.path() / ("old" + std::to_string(i));
    WriteFile(old_path, t.old_data);
    auto basis = Basis::Open({old_path.string()}, ropt.params.data);
    ASSERT_TRUE(basis.has_value());
    t.basis = std::make_unique<Basis>(std::move(*basis));
    t.out = dir.path() / ("new" + std::to_string(i));
    t.receiver = std::make_unique<SyncReceiver>(*t.basis, t.out.string(), ropt);
    t.sender = std::make_unique<SyncSender>(t.new_data,
                                            SenderOptions{ropt.params.data, 3});
  }
  // Round robin: each exchange moves one frame each way, then the next.
  size_t steps = 0, interleaved = 0;
  for (bool busy = true; busy && steps < 1'000'000;) {
    busy = false;
    int moved_this_round = 0;
    for (Transfer& t : transfers) {
      bool moved = false;
      if (auto f = t.receiver->NextToSend()) {
        t.sender->OnFrame(std::move(*f));
        moved = true;
      }
      if (auto f = t.sender->NextToSend()) {
        t.receiver->OnFrame(std::move(*f));
        moved = true;
      }
      busy |= moved || !t.receiver->finished() || !t.sender->finished();
      moved_this_round += moved;
      ++steps;
    }
    if (moved_this_round > 1) ++interleaved;
  }
  EXPECT_GT(interleaved, 0u);  // several exchanges were under way at once
  for (Transfer& t : transfers) {
    ASSERT_TRUE(t.receiver->finished() && t.sender->finished());
    ASSERT_FALSE(t.receiver->error()) << t.receiver->error()->context;
    ASSERT_FALSE(t.sender->error()) << t.sender->error()->context;
    EXPECT_TRUE(ReadFile(t.out) == t.new_data);
    EXPECT_GE(t.receiver->stats().levels, 2u);
    EXPECT_LT(t.sender->stats().delta.literal_bytes, t.new_data.size());
  }
}

TEST(SyncMachineTest, AFrameOutOfPlaceEndsTheExchangeAndTellsThePeer) {
  testing::TempDir dir;
  const fs::path old_path = dir.path() / "old";
  WriteFile(old_path, Bytes(50'000, 7));
  auto basis = Basis::Open({old_path.string()}, ChunkParams{});
  ASSERT_TRUE(basis.has_value());
  SyncReceiver receiver(*basis, (dir.path() / "out").string(), {});
  ASSERT_TRUE(receiver.NextToSend().has_value());  // its hello
  receiver.OnFrame({SyncMessage::kDeltaRecords, "\x01\x00\x01"});
  ASSERT_TRUE(receiver.error().has_value());
  auto told = receiver.NextToSend();
  ASSERT_TRUE(told.has_value());
  EXPECT_EQ(told->type, SyncMessage::kError);
  EXPECT_TRUE(receiver.finished());
  EXPECT_FALSE(fs::exists(dir.path() / "out"));

  const Bytes data(10'000, 1);
  SyncSender sender(data, {});
  sender.OnFrame({SyncMessage::kChunks, "anything"});  // before any hello
  ASSERT_TRUE(sender.error().has_value());
  EXPECT_EQ(sender.NextToSend()->type, SyncMessage::kError);
  EXPECT_TRUE(sender.finished());
}

TEST(SyncMessagesTest, DecodersCheckEveryLimit) {
  GetChunks g{2, {0, 5, 6, 1000}};
  auto back = DecodeGetChunks(EncodeGetChunks(g));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->indices, g.indices);
  EXPECT_FALSE(
      DecodeGetChunks(std::string("\x02\xff\xff\xff\x0f", 5)));  // count lies
  EXPECT_FALSE(DecodeGetChunks(std::string("\x00\x00", 2)));     // level 0
  Hello h;
  h.top = "abc";
  auto hello = DecodeHello(EncodeHello(h));
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->top, "abc");
  std::string bad = EncodeHello(h);
  bad[0] = 9;
  EXPECT_EQ(DecodeHello(bad).error().code, make_error_code(Errc::kUnsupported));
}

}  // namespace
}  // namespace dfs::repl
