#include "dfs/repl/reconcile.h"

#include <tuple>

namespace dfs::repl {

bool Wins(const FileRecord& a, const FileRecord& b) {
  if (a.deleted != b.deleted) return !a.deleted;  // an edit beats a delete
  return std::tie(a.mtime_ns, a.modified_by, a.hash.high, a.hash.low) >
         std::tie(b.mtime_ns, b.modified_by, b.hash.high, b.hash.low);
}

namespace {

bool SameContent(const FileRecord& a, const FileRecord& b) {
  if (a.deleted || b.deleted) return a.deleted && b.deleted;
  if (a.is_dir || b.is_dir) return a.is_dir && b.is_dir;
  return a.size == b.size && a.hash == b.hash;
}

// How to get from what we hold (`local`) to `target`.
Action ActionFor(const std::optional<FileRecord>& local,
                 const FileRecord& target) {
  if (target.deleted) {
    return local && !local->deleted ? Action::kDelete : Action::kRecordOnly;
  }
  if (local && SameContent(*local, target)) return Action::kRecordOnly;
  if (target.is_dir) return Action::kMakeDir;
  return Action::kFetch;
}

// Whether replacing `local` with `target` loses content nobody else has.
bool HoldsLoser(const std::optional<FileRecord>& local,
                const FileRecord& target) {
  return local && !local->deleted && !local->is_dir &&
         !SameContent(*local, target);
}

}  // namespace

Decision Reconcile(const std::optional<FileRecord>& local,
                   const FileRecord& remote, std::string_view self) {
  Decision d;
  if (!local) {
    d.result = remote;
    d.action = ActionFor(local, remote);
    return d;
  }
  switch (Compare(remote.version, local->version)) {
    case Order::kEqual:
    case Order::kOlder:
      return d;  // kNothing
    case Order::kNewer:
      d.result = remote;
      d.action = ActionFor(local, remote);
      // A winner settled elsewhere replaces the losing version this member
      // wrote: keep that version here.
      d.keep_local_copy = remote.resolved_conflict &&
                          local->modified_by == self &&
                          HoldsLoser(local, remote);
      return d;
    case Order::kConcurrent:
      break;
  }
  // Concurrent versions of the same content (members pre-seeded with the
  // same file) are no conflict: they only need one merged version.
  d.conflict = !SameContent(*local, remote);
  const VersionVector merged =
      VersionVector::Merge(local->version, remote.version);
  if (Wins(*local, remote)) {
    d.result = *local;
    d.action = Action::kKeepLocal;
  } else {
    d.result = remote;
    d.action = ActionFor(local, remote);
    d.keep_local_copy = HoldsLoser(local, remote);
  }
  d.result.version = merged;
  d.result.resolved_conflict = true;
  return d;
}

}  // namespace dfs::repl
