#include "dfs/common/error.h"

#include "dfs/common/result.h"

namespace dfs {
namespace {

class DfsErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "dfs"; }
  std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::kOk:
        return "ok";
      case Errc::kInvalidArgument:
        return "invalid argument";
      case Errc::kLimitExceeded:
        return "limit exceeded";
      case Errc::kNotFound:
        return "not found";
      case Errc::kAlreadyExists:
        return "already exists";
      case Errc::kConflict:
        return "conflict";
      case Errc::kCorrupt:
        return "corrupt data";
      case Errc::kUnsupported:
        return "unsupported";
      case Errc::kIo:
        return "I/O error";
      case Errc::kStorage:
        return "storage error";
      case Errc::kNeedResync:
        return "change log trimmed; full resync needed";
      case Errc::kPermissionDenied:
        return "permission denied";
      case Errc::kUnavailable:
        return "unavailable";
    }
    return "unknown error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& DfsCategory() {
  static const DfsErrorCategory category;
  return category;
}

std::string Error::Message() const {
  // The context is written as a whole sentence by whoever failed; the
  // category's generic text only helps when there is none.
  return context.empty() ? code.message() : context;
}

}  // namespace dfs
