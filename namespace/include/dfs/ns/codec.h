// Binary encoding of namespace records, mutations and change-log entries:
// the LMDB values and (from #4) what a replica pulls from its primary, so
// every decoder treats its input as untrusted: each length and count is
// checked against a named limit before anything is allocated.
// The format is documented in namespace/FORMAT.md.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dfs/common/result.h"
#include "dfs/ns/model.h"
#include "dfs/ns/namespace.h"

namespace dfs::ns {

inline constexpr uint8_t kRecordVersion = 1;
inline constexpr size_t kMaxKeyBytes = 2 * 4096;
inline constexpr size_t kMaxDescriptionBytes = 4096;
inline constexpr size_t kMaxCidrBytes = 64;
// A change touching more records than this is logged as "resync needed"
// instead of record by record (a bulk import or a root removal of a huge
// namespace), so no single log entry grows without bound.
inline constexpr size_t kMaxLoggedMutations = 10000;

std::string EncodeRoot(const Root& root);
Result<Root> DecodeRoot(std::string_view bytes);
std::string EncodeFolder(const Folder& folder);
Result<Folder> DecodeFolder(std::string_view bytes);

// One committed change: its serial, when, what an operator asked for, and
// the mutations it made. When `resync_required` is set the mutations are
// not logged and a follower must reload everything.
struct ChangeEntry {
  uint64_t serial = 0;
  int64_t unix_millis = 0;
  std::string description;
  bool resync_required = false;
  std::vector<Mutation> mutations;
  bool operator==(const ChangeEntry&) const = default;
};

std::string EncodeChangeEntry(const ChangeEntry& entry);
// A full copy of a namespace travels as one ChangeEntry of Put mutations
// (a snapshot for a replica that fell behind the log); this bounds it.
inline constexpr size_t kMaxSnapshotMutations = 20'000'000;

// `max_mutations` bounds the entry's mutation count (kLimitExceeded).
Result<ChangeEntry> DecodeChangeEntry(
    std::string_view bytes, size_t max_mutations = kMaxLoggedMutations);

}  // namespace dfs::ns
