#include "dfs/repl/files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace dfs::repl {
namespace {

Error IoError(const std::string& what, int err) {
  return MakeError(Errc::kIo, what + ": " + std::strerror(err));
}

}  // namespace

Result<MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Fail(Errc::kNotFound, "no such file: " + path);
    return Unexpected(IoError("cannot open " + path, errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Unexpected(IoError("cannot stat " + path, err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(Errc::kInvalidArgument, path + " is not a regular file");
  }
  MappedFile file;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0) {
    void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file
    if (p == MAP_FAILED) return Unexpected(IoError("cannot map " + path, err));
    ::madvise(p, file.size_, MADV_SEQUENTIAL);
    file.data_ = static_cast<const uint8_t*>(p);
    file.StartPrefetch();
  } else {
    ::close(fd);
  }
  return file;
}

void MappedFile::StartPrefetch() {
  // A file that is not in memory is read by a helper ahead of whoever
  // walks the mapping, so the disk and the CPU work at the same time
  // (page faults alone wait for each piece in turn: a cold 1 GB
  // signature took ~1.0 s without this, 0.5-0.8 s with it here, where
  // posix_fadvise(WILLNEED) and readahead() did not help).
  if (size_ < (8u << 20)) return;
  prefetch_stop_ = std::make_shared<std::atomic<bool>>(false);
  prefetch_ = std::thread([data = data_, size = size_, stop = prefetch_stop_] {
    // One byte a page through the mapping: each fault reads ahead, in
    // order, and warm pages cost only the mapping.
    uint8_t sink = 0;
    for (size_t off = 0; off < size && !stop->load(std::memory_order_relaxed);
         off += 4096) {
      sink ^= *reinterpret_cast<const volatile uint8_t*>(data + off);
    }
    (void)sink;
  });
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      prefetch_(std::move(other.prefetch_)),
      prefetch_stop_(std::move(other.prefetch_stop_)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    StopPrefetch();
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    prefetch_ = std::move(other.prefetch_);
    prefetch_stop_ = std::move(other.prefetch_stop_);
  }
  return *this;
}

void MappedFile::StopPrefetch() {
  if (prefetch_stop_) prefetch_stop_->store(true);
  if (prefetch_.joinable()) prefetch_.join();
}

MappedFile::~MappedFile() {
  StopPrefetch();
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<Basis> Basis::Open(const std::vector<std::string>& paths,
                          const ChunkParams& params, unsigned threads) {
  std::vector<Source> files;
  for (const auto& path : paths) files.push_back({path, nullptr});
  return Open(files, params, threads);
}

Result<Basis> Basis::Open(const std::vector<Source>& sources,
                          const ChunkParams& params, unsigned threads) {
  DFS_RETURN_IF_ERROR(ValidateParams(params));
  Basis basis;
  for (const auto& source : sources) {
    DFS_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(source.path));
    uint64_t known_total = 0;
    if (source.chunks) {
      for (const auto& c : *source.chunks) known_total += c.length;
    }
    const auto chunks = source.chunks && known_total == file.size()
                            ? *source.chunks
                            : ChunkData(params, file.data(), threads);
    if (basis.entries_.size() + chunks.size() > kMaxEntries) {
      return Fail(Errc::kLimitExceeded,
                  "basis has more chunks than a signature holds");
    }
    uint64_t offset = 0;
    for (const auto& c : chunks) {
      basis.entries_.push_back(c);
      basis.file_of_.push_back(static_cast<uint32_t>(basis.files_.size()));
      basis.offset_of_.push_back(offset);
      offset += c.length;
    }
    basis.size_ += file.size();
    basis.files_.push_back(std::move(file));
  }
  return basis;
}

PatchWriter::PatchWriter(const Basis& basis, const DeltaHeader& header,
                         AtomicFile out, bool durable)
    : basis_(basis), header_(header), out_(std::move(out)), durable_(durable) {}

Result<std::unique_ptr<PatchWriter>> PatchWriter::Create(
    const std::string& out_path, const Basis& basis, const DeltaHeader& header,
    bool durable) {
  if (header.basis_chunks != basis.entries().size()) {
    return Fail(Errc::kCorrupt, "delta was made for a basis of " +
                                    std::to_string(header.basis_chunks) +
                                    " chunks; this one has " +
                                    std::to_string(basis.entries().size()));
  }
  DFS_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(out_path));
  // The new file's blocks are taken now: a disk too small for it fails
  // here, before any work, not half way; and with no blocks left to
  // allocate, the rename over an old file does not make ext4 flush the
  // whole new file first (its auto_da_alloc: ~0.3 s a GB). Free space is
  // asked first, so a size beyond it is refused without filling the disk
  // on the way to finding out. Filesystems without fallocate just write
  // as they go.
  const std::string no_room = "disk full: no room for the " +
                              std::to_string(header.new_size) + " bytes of " +
                              out_path;
  struct statvfs fs {};
  if (header.new_size > 0 && ::fstatvfs(out.fd(), &fs) == 0 &&
      fs.f_frsize > 0) {
    const uint64_t blocks =
        header.new_size / fs.f_frsize + (header.new_size % fs.f_frsize != 0);
    if (blocks > fs.f_bavail) {
      return Fail(Errc::kIo,
                  no_room + " (" +
                      std::to_string(uint64_t{fs.f_bavail} * fs.f_frsize) +
                      " free)");
    }
  }
  if (header.new_size > 0 &&
      ::fallocate(out.fd(), 0, 0, static_cast<off_t>(header.new_size)) != 0 &&
      errno != EOPNOTSUPP && errno != ENOSYS) {
    const int err = errno;
    return Unexpected(IoError(
        err == ENOSPC ? no_room : "cannot reserve space for " + out_path, err));
  }
  std::unique_ptr<PatchWriter> w(
      new PatchWriter(basis, header, std::move(out), durable));
  w->buffer_.reserve(kRecordBatchBytes);
  return w;
}

Status PatchWriter::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status st = out_.WriteAt(buffer_.data(), buffer_.size(), buffer_offset_);
  buffer_.clear();
  return st;
}

Status PatchWriter::Write(const uint8_t* data, size_t size) {
  if (size > header_.new_size - written_) {
    return Fail(Errc::kCorrupt, "delta writes past the declared size of " +
                                    std::to_string(header_.new_size) +
                                    " bytes");
  }
  const uint64_t at = written_;
  written_ += size;
  if (size >= (256u << 10)) {
    DFS_RETURN_IF_ERROR(Flush());
    // Hash and write a piece at a time, so the write reads what the hash
    // just brought into the cache instead of fetching it from memory again.
    constexpr size_t kPiece = size_t{2} << 20;
    for (size_t done = 0; done < size; done += kPiece) {
      const size_t n = std::min(kPiece, size - done);
      hasher_.Update(data + done, n);
      DFS_RETURN_IF_ERROR(out_.WriteAt(data + done, n, at + done));
    }
    return Status::Ok();
  }
  hasher_.Update(data, size);
  if (buffer_.empty()) buffer_offset_ = at;
  buffer_.append(reinterpret_cast<const char*>(data), size);
  if (buffer_.size() >= kRecordBatchBytes) return Flush();
  return Status::Ok();
}

Status PatchWriter::Apply(std::string_view records) {
  if (failed_ || committed_)
    return Fail(Errc::kInvalidArgument, "patch already ended");
  Status st = DecodeRecords(
      records, header_.basis_chunks, [&](const DeltaOp& op) -> Status {
        if (op.kind == DeltaOp::kLiteral) {
          return Write(reinterpret_cast<const uint8_t*>(op.literal.data()),
                       op.literal.size());
        }
        // A run of chunks that sit back to back in one basis file is one write.
        uint64_t i = op.first;
        const uint64_t end = op.first + op.count;
        while (i < end) {
          auto first = basis_.Chunk(i);
          size_t len = first.size();
          while (i + 1 < end && basis_.Contiguous(i) &&
                 basis_.Chunk(i + 1).data() == first.data() + len) {
            ++i;
            len += basis_.Chunk(i).size();
          }
          DFS_RETURN_IF_ERROR(Write(first.data(), len));
          ++i;
        }
        return Status::Ok();
      });
  if (!st) failed_ = true;
  return st;
}

Status PatchWriter::Commit() {
  if (failed_ || committed_)
    return Fail(Errc::kInvalidArgument, "patch already ended");
  failed_ = true;  // until it succeeds
  DFS_RETURN_IF_ERROR(Flush());
  if (written_ != header_.new_size) {
    return Fail(Errc::kCorrupt, "delta rebuilt " + std::to_string(written_) +
                                    " bytes, not the declared " +
                                    std::to_string(header_.new_size));
  }
  const Hash128 got = hasher_.Final();
  if (!(got == header_.new_hash)) {
    return Fail(Errc::kCorrupt,
                "rebuilt file hash " + got.Hex() + " is not the sender's " +
                    header_.new_hash.Hex() + "; nothing installed");
  }
  DFS_RETURN_IF_ERROR(out_.Commit(durable_));
  committed_ = true;
  failed_ = false;
  return Status::Ok();
}

}  // namespace dfs::repl
