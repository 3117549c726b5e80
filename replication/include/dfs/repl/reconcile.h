// What a member does with a record a peer announced, given its own record
// for that path: the decision every member makes the same way, so a group
// converges without a coordinator. Pure.
//
// The peer's version is newer: take it (fetch the content unless it is
// already here). Ours is newer or equal: nothing. Concurrent (each has a
// change the other lacks): a conflict, settled by a fixed total order so
// every member picks the same winner: an edit beats a deletion, then the
// later mtime, then the greater member name, then the greater hash. The
// winner's version becomes the merge of both vectors (so the settled
// record is newer than either and settles nothing again). The losing
// content is never lost: the member that holds it keeps a copy in
// FOLDER/.dfsrd/conflicts/, both when it settles the conflict itself and
// when a winner settled elsewhere arrives first.
#pragma once

#include <optional>
#include <string_view>

#include "dfs/repl/index.h"

namespace dfs::repl {

enum class Action {
  kNothing,     // ours is as new or newer
  kRecordOnly,  // same content (or a deletion of what is gone): take the
                // record and its metadata, move no bytes
  kFetch,       // fetch the content
  kMakeDir,
  kDelete,     // remove the local file or directory
  kKeepLocal,  // our content won a conflict: keep it, take `result`
};

struct Decision {
  Action action = Action::kNothing;
  bool conflict = false;
  // Before acting, keep our current file in the conflicts folder.
  bool keep_local_copy = false;
  FileRecord result;  // the record to store (the content to end up with)
};

// Whether `a` beats `b` in a conflict (the fixed total order).
bool Wins(const FileRecord& a, const FileRecord& b);

Decision Reconcile(const std::optional<FileRecord>& local,
                   const FileRecord& remote, std::string_view self);

}  // namespace dfs::repl
