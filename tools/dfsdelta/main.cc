// dfsdelta: the delta engine on the command line, like rdiff, plus `sync`,
// which runs a receiver and a sender joined by loopback TCP speaking the
// exchange dfsrd uses, and says what crossed the wire.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "dfs/common/atomic_file.h"
#include "dfs/repl/files.h"
#include "dfs/repl/sync.h"
#include "socket_channel.h"

namespace {

using namespace dfs;
using Steady = std::chrono::steady_clock;

int Failed(const Error& e) {
  std::cerr << "dfsdelta: " << e.context << "\n";
  return 1;
}

double Since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

std::string Mb(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MB", bytes / 1e6);
  return buf;
}

}  // namespace

int main(int argc, char** argv) try {
  dfs::RemoveTempFilesOnSignals();
  CLI::App app{
      "dfsdelta: content-defined chunking deltas (signature, delta, patch) "
      "and a one-file sync over loopback TCP"};
  app.require_subcommand(1);
  repl::SignatureParams params;
  uint32_t avg = params.data.avg;
  int zstd_level = 3;
  bool stats = false, fsync_out = false;
  std::vector<std::string> reuse;
  app.add_option(
         "--chunk-avg", avg,
         "average data chunk size (power of two; min avg*3/4, max avg*8)")
      ->capture_default_str();
  app.add_option("--zstd-level", zstd_level, "literal compression (0 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  app.add_flag("--stats", stats, "print sizes, bytes on the wire and speed");
  app.add_flag("--fsync", fsync_out, "fsync the output before installing it");
  unsigned threads = repl::DefaultChunkThreads();
  app.add_option("--threads", threads,
                 "threads that chunk a large file (sync: shared by its two "
                 "sides)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  std::string old_path, sig_path, new_path, delta_path, out_path;
  auto* signature = app.add_subcommand("signature", "OLD SIG: describe OLD");
  signature->add_option("old", old_path)->required();
  signature->add_option("signature", sig_path)->required();
  signature->add_option("--reuse", reuse,
                        "other local files whose chunks may be copied");
  auto* delta =
      app.add_subcommand("delta", "SIG NEW DELTA: NEW relative to SIG");
  delta->add_option("signature", sig_path)->required();
  delta->add_option("new", new_path)->required();
  delta->add_option("delta", delta_path)->required();
  auto* patch = app.add_subcommand(
      "patch", "OLD DELTA OUT: rebuild NEW (never in place)");
  patch->add_option("old", old_path)->required();
  patch->add_option("delta", delta_path)->required();
  patch->add_option("out", out_path)->required();
  patch->add_option("--reuse", reuse,
                    "the same --reuse files the signature was made with");
  auto* sync =
      app.add_subcommand("sync",
                         "OLD NEW OUT: receiver (OLD) and sender (NEW) over "
                         "loopback TCP; OLD may be - for none");
  sync->add_option("old", old_path)->required();
  sync->add_option("new", new_path)->required();
  sync->add_option("out", out_path)->required();
  sync->add_option("--reuse", reuse,
                   "other receiver-side files whose chunks may be copied");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // 2: the command line does not parse
  }

  params.data = {avg / 4 * 3, avg, avg * 8};

  if (auto st = repl::ValidateSignatureParams(params); !st)
    return Failed(st.error());
  const auto start = Steady::now();
  auto basis_paths = [&] {
    std::vector<std::string> paths;
    if (old_path != "-") paths.push_back(old_path);
    paths.insert(paths.end(), reuse.begin(), reuse.end());
    return paths;
  };

  if (*signature) {
    auto basis = repl::Basis::Open(basis_paths(), params.data, threads);
    if (!basis) return Failed(basis.error());
    repl::SignatureFile sig{params, basis->size(), basis->entries()};
    const std::string encoded = repl::EncodeSignatureFile(sig);
    if (auto st = WriteFileAtomically(sig_path, encoded); !st)
      return Failed(st.error());
    if (stats) {
      const double s = Since(start);
      std::cout << "signature: " << Mb(basis->size()) << " in "
                << basis->entries().size() << " chunks -> "
                << Mb(encoded.size()) << ", " << s << " s ("
                << basis->size() / 1e9 / s << " GB/s)\n";
    }
    return 0;
  }
  if (*delta) {
    auto sig_file = repl::MappedFile::Open(sig_path);
    if (!sig_file) return Failed(sig_file.error());
    auto sig = repl::DecodeSignatureFile(
        {reinterpret_cast<const char*>(sig_file->data().data()),
         sig_file->size()});
    if (!sig) return Failed(sig.error());
    auto data = repl::MappedFile::Open(new_path);
    if (!data) return Failed(data.error());
    const auto chunks =
        repl::ChunkData(sig->params.data, data->data(), threads);
    repl::DeltaHeader header{data->size(), repl::HashBytes(data->data()),
                             sig->entries.size()};
    auto out = AtomicFile::Create(delta_path);
    if (!out) return Failed(out.error());
    Status written =
        out->Write(repl::DeltaFilePrefix(sig->params.data, header));
    repl::DeltaEncoder encoder(sig->entries, zstd_level);
    encoder.Encode(data->data(), chunks, [&](std::string&& records) {
      if (written) written = out->Write(records);
    });
    if (written) written = out->Write({&repl::kEndRecord, 1});
    if (written) written = out->Commit(/*durable=*/false);
    if (!written) return Failed(written.error());
    if (stats) {
      const auto& d = encoder.stats();
      std::cout << "delta: " << Mb(data->size()) << " new; copied "
                << Mb(d.copied_bytes) << ", literal " << Mb(d.literal_bytes)
                << " (" << Mb(d.literal_wire_bytes) << " after zstd); delta "
                << Mb(d.record_bytes) << ", " << Since(start) << " s\n";
    }
    return 0;
  }
  if (*patch) {
    auto delta_file = repl::MappedFile::Open(delta_path);
    if (!delta_file) return Failed(delta_file.error());
    auto parts = repl::SplitDeltaFile(
        {reinterpret_cast<const char*>(delta_file->data().data()),
         delta_file->size()});
    if (!parts) return Failed(parts.error());
    auto basis = repl::Basis::Open(basis_paths(), parts->basis_params, threads);
    if (!basis) return Failed(basis.error());
    auto writer =
        repl::PatchWriter::Create(out_path, *basis, parts->header, fsync_out);
    if (!writer) return Failed(writer.error());
    if (auto st = (*writer)->Apply(parts->records); !st)
      return Failed(st.error());
    if (auto st = (*writer)->Commit(); !st) return Failed(st.error());
    if (stats) {
      std::cout << "patch: " << Mb(parts->header.new_size)
                << " rebuilt and verified, " << Since(start) << " s\n";
    }
    return 0;
  }
  // sync
  auto data = repl::MappedFile::Open(new_path);
  if (!data) return Failed(data.error());
  repl::ReceiverOptions receiver{params, fsync_out};
  // The two sides chunk at the same time: each takes half the threads.
  const unsigned per_side = std::max(1u, threads / 2);
  repl::SenderOptions sender{params.data, zstd_level, per_side};
  auto result = tools::SyncOverLoopback(basis_paths(), data->data(), out_path,
                                        receiver, sender, per_side);
  if (!result.receiver) return Failed(result.receiver.error());
  if (!result.sender) return Failed(result.sender.error());
  if (stats) {
    const auto& r = *result.receiver;
    const auto& s = *result.sender;
    const double seconds = Since(start);
    std::cout << "sync: " << Mb(s.new_size) << " new file, basis "
              << Mb(result.basis_bytes) << " (" << result.basis_chunks
              << " chunks), " << seconds << " s\n"
              << "  receiver -> sender: " << r.bytes_sent
              << " bytes (signature: " << r.levels << " levels, "
              << r.signature_bytes << " bytes sent)\n"
              << "  sender -> receiver: " << s.bytes_sent << " bytes (copied "
              << Mb(s.delta.copied_bytes) << ", literal "
              << Mb(s.delta.literal_bytes) << " -> "
              << Mb(s.delta.literal_wire_bytes) << " on the wire)\n"
              << "  wire bytes: " << r.bytes_sent + s.bytes_sent << "\n"
              << "  seconds: " << seconds << "\n";
  }
  return 0;
} catch (const std::exception& e) {
  std::cerr << "dfsdelta: " << e.what() << "\n";
  return 1;
}
