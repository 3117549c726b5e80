#include "dfs/repl/compress.h"

#include <zstd.h>

#include <memory>

#include "dfs/common/error.h"

namespace dfs::repl {

namespace {

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

std::string Compress(std::string_view data, int level,
                     std::string_view prefix) {
  std::unique_ptr<ZSTD_CCtx, CctxFree> ctx(ZSTD_createCCtx());
  ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level);
  if (!prefix.empty()) {
    // The prefix must be within the window: long old files are windowed.
    ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_enableLongDistanceMatching,
                           prefix.size() > (size_t{1} << 22));
    ZSTD_CCtx_refPrefix(ctx.get(), prefix.data(), prefix.size());
  }
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress2(ctx.get(), out.data(), out.size(),
                                  data.data(), data.size());
  if (ZSTD_isError(n)) return std::string();
  out.resize(n);
  return out;
}

Result<std::string> Decompress(std::string_view frame, size_t size,
                               size_t max_size, std::string_view prefix) {
  if (size > max_size) {
    return Fail(Errc::kLimitExceeded,
                "a compressed block of " + std::to_string(size) +
                    " bytes; the limit is " + std::to_string(max_size));
  }
  std::unique_ptr<ZSTD_DCtx, DctxFree> ctx(ZSTD_createDCtx());
  // No window beyond what a 1 GiB prefix needs: a hostile frame cannot ask
  // for more memory than that.
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 30);
  if (!prefix.empty())
    ZSTD_DCtx_refPrefix(ctx.get(), prefix.data(), prefix.size());
  std::string out(size, '\0');
  const size_t n = ZSTD_decompressDCtx(ctx.get(), out.data(), out.size(),
                                       frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) {
    return Fail(Errc::kCorrupt,
                "a compressed block that does not decompress "
                "to its declared size");
  }
  return out;
}

}  // namespace dfs::repl
