// The receiver's side of the disk: memory-mapped inputs, the basis (the
// local files whose chunks a delta may copy from) and the patch writer
// that builds the new file beside its destination and renames it into
// place only once its whole-file hash checks out, so a reader (a web
// server) never sees a half-written or wrong file.
// Thread-safety: a Basis is immutable once open (share it freely); a
// PatchWriter belongs to one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dfs/common/atomic_file.h"
#include "dfs/common/result.h"
#include "dfs/repl/delta.h"
#include "dfs/repl/signature.h"

namespace dfs::repl {

// A read-only mapping of a whole file (empty files map to nothing).
class MappedFile {
 public:
  // Errors: kNotFound, kIo, kInvalidArgument (not a regular file).
  static Result<MappedFile> Open(const std::string& path);
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();
  std::span<const uint8_t> data() const { return {data_, size_}; }
  uint64_t size() const { return size_; }

 private:
  void StartPrefetch();
  void StopPrefetch();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::thread prefetch_;
  std::shared_ptr<std::atomic<bool>> prefetch_stop_;
};

// One or more local files, each chunked on its own, their chunks listed in
// order: chunk i of the basis is what a delta's copy of index i means. The
// old version of the file comes first; other files let a renamed, copied
// or similar file cost almost nothing.
class Basis {
 public:
  // `threads`: as for ChunkData.
  static Result<Basis> Open(const std::vector<std::string>& paths,
                            const ChunkParams& params, unsigned threads = 1);
  // A file and, when known, its chunks under the same params (kept from
  // an earlier chunking: used if they cover the file, else it is chunked).
  struct Source {
    std::string path;
    const std::vector<ChunkEntry>* chunks = nullptr;
  };
  static Result<Basis> Open(const std::vector<Source>& files,
                            const ChunkParams& params, unsigned threads = 1);
  const std::vector<ChunkEntry>& entries() const { return entries_; }
  uint64_t size() const { return size_; }
  std::span<const uint8_t> Chunk(size_t i) const {
    return files_[file_of_[i]].data().subspan(offset_of_[i],
                                              entries_[i].length);
  }
  // Whether chunk i+1 directly follows chunk i in the same file (copies
  // of such runs are written in one go).
  bool Contiguous(size_t i) const { return file_of_[i] == file_of_[i + 1]; }

 private:
  std::vector<MappedFile> files_;
  std::vector<ChunkEntry> entries_;
  std::vector<uint32_t> file_of_;
  std::vector<uint64_t> offset_of_;
  uint64_t size_ = 0;
};

// Builds a new file from a basis and delta records.
class PatchWriter {
 public:
  // Creates the new file as an AtomicFile (dfs/common/atomic_file.h: a
  // hidden temp beside `out_path`, its permissions) and reserves its
  // `header.new_size` bytes. With `durable`, Commit
  // fsyncs the file before the rename (a crash then leaves the old or the
  // new file, whole); without it, the rename alone still keeps readers
  // from ever seeing a partial file. Errors: kIo.
  static Result<std::unique_ptr<PatchWriter>> Create(
      const std::string& out_path, const Basis& basis,
      const DeltaHeader& header, bool durable = true);
  // Destroying it uncommitted removes the temp file.

  // Applies whole records. Errors: kCorrupt (a hostile or broken delta:
  // bad index, output past the declared size), kIo (a full disk...).
  // After an error the writer is dead: nothing becomes visible.
  Status Apply(std::string_view records);
  // Checks the size and whole-file hash, fsyncs and renames into place.
  // Errors: kCorrupt (wrong size or hash), kIo.
  Status Commit();
  uint64_t written() const { return written_; }

 private:
  PatchWriter(const Basis& basis, const DeltaHeader& header, AtomicFile out,
              bool durable);
  Status Write(const uint8_t* data, size_t size);
  Status Flush();

  const Basis& basis_;
  DeltaHeader header_;
  AtomicFile out_;
  uint64_t written_ = 0;
  bool failed_ = false, committed_ = false, durable_ = true;
  StreamHasher hasher_;
  std::string buffer_;
  uint64_t buffer_offset_ = 0;
};

}  // namespace dfs::repl
