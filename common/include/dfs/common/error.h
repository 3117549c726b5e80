// Error codes shared by every module: the generic failures (bad input,
// limits, not found, conflicts, I/O). Modules with errors of their own
// (the LMDB store) add categories next to this one.
#pragma once

#include <system_error>

namespace dfs {

enum class Errc {
  kOk = 0,
  kInvalidArgument,   // malformed input: a bad path, name or number
  kLimitExceeded,     // input larger than a named limit
  kNotFound,          // the object named does not exist
  kAlreadyExists,     // the object being created exists
  kConflict,          // the change contradicts the existing state
  kCorrupt,           // stored or received bytes do not decode
  kUnsupported,       // a version or feature this build does not know
  kIo,                // the operating system refused (see context)
  kStorage,           // the database failed (see context)
  kNeedResync,        // a change log no longer holds what was asked for
  kPermissionDenied,  // a peer did not prove the shared key, or refused ours
  kUnavailable,       // a service did not answer, or answered with an error
};

const std::error_category& DfsCategory();

inline std::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), DfsCategory()};
}

}  // namespace dfs

template <>
struct std::is_error_code_enum<dfs::Errc> : std::true_type {};
